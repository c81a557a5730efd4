-- The one list of sources: the Makefile reads the C sources of each module
-- from here (tools/rock_sources.lua) and `make check-rockspec` checks that
-- every file under core/ and lua/ is listed.
rockspec_format = "3.0"
package = "stepflow"
version = "scm-1"
source = { url = "git+file:///dev/null" }
description = {
  summary = "Run AWS Step Functions state machines (ASL) on a C core with Lua handlers",
  license = "MIT",
}
dependencies = { "lua >= 5.4, < 5.5" }
external_dependencies = {
  LIBEVENT = { header = "event2/event.h", library = "event_core" },
  SQLITE = { header = "sqlite3.h", library = "sqlite3" },
}
build = {
  type = "builtin",
  modules = {
    -- C modules
    ["stepflow.core.engine"] = {
      sources = { "core/lmod_engine.c", "core/loop.c", "core/heap.c" },
      libraries = { "event_core" },
      incdirs = { "core", "$(LIBEVENT_INCDIR)" },
      libdirs = { "$(LIBEVENT_LIBDIR)" },
    },
    ["stepflow.core.json"] = {
      sources = { "core/lmod_json.c", "core/json.c", "core/jsonpath.c" },
      incdirs = { "core" },
    },
    ["stepflow.core.store"] = {
      sources = { "core/lmod_store.c", "core/store.c", "core/store_open.c",
        "core/store_events.c" },
      libraries = { "sqlite3" },
      incdirs = { "core", "$(SQLITE_INCDIR)" },
      libdirs = { "$(SQLITE_LIBDIR)" },
    },
    -- Lua modules
    ["stepflow"] = "lua/stepflow/init.lua",
    ["stepflow.json"] = "lua/stepflow/json.lua",
    ["stepflow.jsonpath"] = "lua/stepflow/jsonpath.lua",
    ["stepflow.asl.paths"] = "lua/stepflow/asl/paths.lua",
    ["stepflow.errors"] = "lua/stepflow/errors.lua",
    ["stepflow.execution"] = "lua/stepflow/execution.lua",
    ["stepflow.replay"] = "lua/stepflow/replay.lua",
    ["stepflow.durable"] = "lua/stepflow/durable.lua",
    ["stepflow.history"] = "lua/stepflow/history.lua",
    ["stepflow.handlers"] = "lua/stepflow/handlers.lua",
    ["stepflow.cli"] = "lua/stepflow/cli.lua",
    ["stepflow.cli.common"] = "lua/stepflow/cli/common.lua",
    ["stepflow.cli.inspect"] = "lua/stepflow/cli/inspect.lua",
    ["stepflow.cli.needs"] = "lua/stepflow/cli/needs.lua",
    ["stepflow.asl.compile"] = "lua/stepflow/asl/compile.lua",
    ["stepflow.asl.dataflow"] = "lua/stepflow/asl/dataflow.lua",
    ["stepflow.asl.flow_jsonpath"] = "lua/stepflow/asl/flow_jsonpath.lua",
    ["stepflow.asl.flow_jsonata"] = "lua/stepflow/asl/flow_jsonata.lua",
    ["stepflow.asl.retry"] = "lua/stepflow/asl/retry.lua",
    ["stepflow.asl.number_field"] = "lua/stepflow/asl/number_field.lua",
    ["stepflow.asl.template"] = "lua/stepflow/asl/template.lua",
    ["stepflow.asl.variables"] = "lua/stepflow/asl/variables.lua",
    ["stepflow.states.pass"] = "lua/stepflow/states/pass.lua",
    ["stepflow.states.task"] = "lua/stepflow/states/task.lua",
    ["stepflow.states.choice"] = "lua/stepflow/states/choice.lua",
    ["stepflow.states.wait"] = "lua/stepflow/states/wait.lua",
    ["stepflow.states.succeed"] = "lua/stepflow/states/succeed.lua",
    ["stepflow.states.fail"] = "lua/stepflow/states/fail.lua",
    ["stepflow.states.parallel"] = "lua/stepflow/states/parallel.lua",
    ["stepflow.states.map"] = "lua/stepflow/states/map.lua",
    ["stepflow.states.group"] = "lua/stepflow/states/group.lua",
    ["stepflow.store"] = "lua/stepflow/store.lua",
    ["stepflow.asl.choice"] = "lua/stepflow/asl/choice.lua",
    ["stepflow.asl.validate"] = "lua/stepflow/asl/validate.lua",
    ["stepflow.asl.validate.util"] = "lua/stepflow/asl/validate/util.lua",
    ["stepflow.asl.validate.paths"] = "lua/stepflow/asl/validate/paths.lua",
    ["stepflow.asl.validate.jsonata"] = "lua/stepflow/asl/validate/jsonata.lua",
    ["stepflow.asl.validate.fields"] = "lua/stepflow/asl/validate/fields.lua",
    ["stepflow.asl.validate.retry_catch"] = "lua/stepflow/asl/validate/retry_catch.lua",
    ["stepflow.asl.validate.choice"] = "lua/stepflow/asl/validate/choice.lua",
    ["stepflow.asl.validate.states"] = "lua/stepflow/asl/validate/states.lua",
    ["stepflow.asl.validate.map_parallel"] = "lua/stepflow/asl/validate/map_parallel.lua",
    ["stepflow.asl.validate.variables"] = "lua/stepflow/asl/validate/variables.lua",
    ["stepflow.asl.validate.scope"] = "lua/stepflow/asl/validate/scope.lua",
    ["stepflow.asl.timestamp"] = "lua/stepflow/asl/timestamp.lua",
    ["stepflow.asl.intrinsics"] = "lua/stepflow/asl/intrinsics.lua",
    ["stepflow.asl.intrinsics.functions"] = "lua/stepflow/asl/intrinsics/functions.lua",
    ["stepflow.asl.intrinsics.hash"] = "lua/stepflow/asl/intrinsics/hash.lua",
    ["stepflow.jsonata"] = "lua/stepflow/jsonata.lua",
    ["stepflow.jsonata.apply"] = "lua/stepflow/jsonata/apply.lua",
    ["stepflow.jsonata.ast"] = "lua/stepflow/jsonata/ast.lua",
    ["stepflow.jsonata.casemap"] = "lua/stepflow/jsonata/casemap.lua",
    ["stepflow.jsonata.eval"] = "lua/stepflow/jsonata/eval.lua",
    ["stepflow.jsonata.eval_path"] = "lua/stepflow/jsonata/eval_path.lua",
    ["stepflow.jsonata.hash"] = "lua/stepflow/jsonata/hash.lua",
    ["stepflow.jsonata.lib"] = "lua/stepflow/jsonata/lib.lua",
    ["stepflow.jsonata.lib_array"] = "lua/stepflow/jsonata/lib_array.lua",
    ["stepflow.jsonata.lib_string"] = "lua/stepflow/jsonata/lib_string.lua",
    ["stepflow.jsonata.messages"] = "lua/stepflow/jsonata/messages.lua",
    ["stepflow.jsonata.parser"] = "lua/stepflow/jsonata/parser.lua",
    ["stepflow.jsonata.signature"] = "lua/stepflow/jsonata/signature.lua",
    ["stepflow.jsonata.tokenizer"] = "lua/stepflow/jsonata/tokenizer.lua",
    ["stepflow.jsonata.values"] = "lua/stepflow/jsonata/values.lua",
    ["stepflow.jsonata.numfmt"] = "lua/stepflow/jsonata/numfmt.lua",
    ["stepflow.jsonata.regex"] = "lua/stepflow/jsonata/regex.lua",
    ["stepflow.jsonata.datetime"] = "lua/stepflow/jsonata/datetime.lua",
  },
  install = {
    bin = { stepflow = "bin/stepflow" },
  },
}

/*
** json.h: the faithful JSON codec shared by stepflow.core.json's files.
** Value model and error wording: docs/INTERNALS.md ("JSON value model").
*/
#ifndef STEPFLOW_JSON_H
#define STEPFLOW_JSON_H

#include <stddef.h>

#include "lua.h"

/* Registry name of the shared array metatable (json.array_mt). */
#define STEPFLOW_JSON_ARRAY_MT "stepflow.array"

/* Deepest nesting of arrays and objects that decode and encode accept. */
#define STEPFLOW_JSON_MAXDEPTH 1000

/* Flags of stepflow_json_encode. */
#define STEPFLOW_JSON_PRETTY    1   /* newlines and 2-space indentation */
#define STEPFLOW_JSON_UNSORTED  2   /* object keys in table order (faster) */

/*
** Decodes the JSON text s[0..len) and pushes its value: objects as plain
** tables, arrays as sequences with the array metatable, null as
** lightuserdata NULL, numbers without fraction or exponent as integers
** when they fit in 64 bits.  [-0, +1, e]
**
** L:       the state.
** s, len:  the text; s[len] must be '\0' (every Lua string is).
** arraymt: stack index (or upvalue pseudo-index) of the array metatable.
** Raises "json: expected <what> at byte N" (N 1-based), "json: invalid
** UTF-8 at byte N" or "json: nesting deeper than 1000 at byte N".
*/
void stepflow_json_decode (lua_State *L, const char *s, size_t len,
                           int arraymt);

/*
** Encodes the value at idx and pushes the text.  [-0, +1, e]
**
** L:       the state.
** idx:     stack index of the value.
** flags:   STEPFLOW_JSON_PRETTY, STEPFLOW_JSON_UNSORTED, or 0.
** arraymt: stack index (or upvalue pseudo-index) of the array metatable.
** cache:   stack index or upvalue pseudo-index of a slot that holds the
**          reusable output buffer (nil at first); encode takes it while
**          it works, so re-entrant calls get their own, and puts it back.
** Raises "json: cannot encode <what> at <path>" or "json: nesting deeper
** than 1000 at <path>", path in JSONPath form ($.a[0].b).
*/
void stepflow_json_encode (lua_State *L, int idx, int flags, int arraymt,
                           int cache);

/*
** Tells whether the value at idx is a JSON array as encode sees it: a
** table with the array metatable, or a non-empty table whose keys are
** exactly 1..n.  [-0, +0, -]
*/
int stepflow_json_isarray (lua_State *L, int idx, int arraymt);

/*
** 1 when the value at idx certainly encodes in at most `limit` bytes,
** found without encoding it (an upper bound: every string byte counted as
** its longest escape); 0 when it may not (encode it to know).  [-0, +0, -]
*/
int stepflow_json_size_within (lua_State *L, int idx, size_t limit);

#endif

-- Shared builders for the specs. Loaded by busted before every spec file
-- (see .busted); it defines no globals, specs require("spec_helper").
return true

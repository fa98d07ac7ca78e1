// Package config loads and checks usmhub's HCL configuration: the hub block,
// initiatives with their trainings, priority policies, connector instances,
// sync bindings and reports.
//
// It owns the schema of the core blocks (decoded with gohcl), the functions
// a config may call (env and file, see EvalContext), the cross checks between
// blocks, and diagnostics that name file, line and column. It does not
// decode connector or sync bodies — the plugin host and the sync engine do
// that against their own schemas — and it never opens the store, starts a
// plugin or touches the network.
package config

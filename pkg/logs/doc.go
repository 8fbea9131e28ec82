// Package logs is the per-resource log pipeline. Processes append their
// stdout and stderr to files they own (see runtime/process); this package
// follows those files, splits them into lines, keeps a bounded history per
// resource (Ring) for `apphostd logs`, fans new lines out to followers
// (`logs -f`) and to an optional callback (the foreground `up` printer),
// and keeps the files themselves bounded by copytruncate rotation.
//
// Nothing here can block a workload: a writer only ever writes to its own
// file. If the daemon falls behind, memory stays bounded (reads in bounded
// chunks, a bounded ring, bounded subscriber buffers) and what cannot be
// kept is dropped and counted.
package logs

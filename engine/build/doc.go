// Package build builds images from Dockerfiles on berth's own engine, with no
// daemon: BuildKit's parser packages read the Dockerfile (and nothing else of
// BuildKit is linked), each RUN step is a container of the engine whose root
// filesystem is an overlay of the stage's layers under an empty upper
// directory, and the step's layer is made from that upper directory alone.
// COPY and ADD write their layer straight from the context. Every layer step
// is kept in a content-addressed cache, so an unchanged step is never run
// again. The result is an image in the engine's image store. The package
// knows no Compose file: Build takes a context directory, a Dockerfile, build
// arguments, a target, tags and labels.
//
// # On disk
//
//	<root>/build/layers/<diff-id hex>     a layer made by a build: an uncompressed tarball, named by its digest
//	<root>/build/unpacked/<diff-id hex>/  that layer unpacked, an overlay lower directory for later RUN steps
//	<root>/build/cache/<key hex>.json     a cache entry: the step's key → its layer (or none) and creation time
//	<root>/build/locks/<key hex>          flocked while a step with that key is being made
//	<root>/build/sums/<stat identity>     a COPY's source checksum, by its files' stat (see sourceSum)
//	<root>/build/leases/lease-*           one per running build: the layers it uses, flocked while it runs
//	<root>/build/gc.lock                  shared by builds while they take a layer, exclusive for Prune
//	<root>/build/.tmp-<owner>-*           layers and directories being written (or mounted on)
//	<root>/build/.run-<owner>-<name>      a RUN container of a running build
//	<root>/build/mounts/<id hash>/<n>/    RUN --mount=type=cache directories, instance n of an id (private mounts add instances)
//	<root>/build/mounts/<id hash>/<n>.lock  flocked by the steps using instance n: shared, or alone (locked, private)
//	<root>/build/.tmp-*.lock              flocked while a RUN step uses that scratch directory (mount sources);
//	                                      a free one is a killed build's, swept by the next build
//
// # Concurrency
//
// Several builds, in one process or several, share the cache. Layers, their
// unpacked directories and cache entries only appear by atomic renames, and
// are never changed afterwards; a step is made under the flock of its key, and
// the cache is read again once the lock is held, so two builds of one step
// run it once.
//
// Prune and DiskUsage (berth builder prune and du, system df) never remove
// a layer a running build leased; see gc.go. A build killed at any point
// leaves only what carries its owner (PID and start time): the next
// build's sweep removes its scratch files, the overlays it mounted and its
// RUN containers, and reuses every step it finished.
//
// # The overlay's upper directory
//
// A RUN step's overlay is mounted with redirect_dir=off and metacopy=off, so
// its upper directory holds every change in full whatever the kernel's
// defaults: a whiteout (a 0/0 character device) becomes a ".wh." entry, an
// opaque directory (trusted.overlay.opaque=y) over a directory of the lower
// layers gets ".wh..wh..opq", and a file that was only copied up (same mode,
// owner, size and modification time as below) is left out, as are the mount
// points the runtime created (/proc, /etc/hosts, …).
//
// # RUN mounts
//
// A RUN step's --mount sources are prepared only when the step runs (a
// cache hit mounts nothing): the context's files for a bind mount are
// hard-linked (or copied, for rw) into a scratch directory, a stage's or
// image's layers are an overlay (with a scratch upper directory for rw),
// and secret files and ssh agent sockets live on a private tmpfs, never on
// disk. A secret given as a variable (env=) is in the environment of the
// step's container, so in its record, until the step ends and the
// container is removed. Mount points are dropped from the layer as the
// runtime's are.
//
// # Stages
//
// Stages run in goroutines, each once the stages it reads (Stage.Deps) are
// built, at most max(CPUs, 2) at once. Each stage is built once, by the
// first goroutine that needs it; a stage only a base image's ONBUILD
// trigger reads (COPY --from, RUN --mount from=) is built when the
// trigger is known. The first error cancels the others; each removes its
// container and undoes its mounts before Build returns.
package build

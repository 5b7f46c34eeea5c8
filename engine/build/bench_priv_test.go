package build

import (
	"fmt"
	"testing"
)

// BenchmarkPrivRebuildUnchanged is a build whose every step the cache has,
// in process (no start-up of the binary): a 3-stage Dockerfile with 21
// sources, as bench/BenchmarkBuild's no-op build.
func BenchmarkPrivRebuildUnchanged(b *testing.B) {
	bl := newPrivBuilder(b)
	dir := b.TempDir()
	files := map[string]string{"Dockerfile": `FROM busybox AS deps
WORKDIR /deps
COPY deps.txt ./
RUN sort deps.txt > deps.sorted

FROM busybox AS build
WORKDIR /src
COPY --from=deps /deps/deps.sorted ./
COPY src/ ./
RUN cat *.txt > app.out

FROM busybox
COPY --from=build /src/app.out /app/
`, "deps.txt": "b\na\n"}
	for i := range 20 {
		files[fmt.Sprintf("src/f%02d.txt", i)] = fmt.Sprint(i)
	}
	writeFiles(b, dir, files)
	opt := Options{ContextDir: dir, Tags: []string{"bench:1"}, Network: "none"}
	first, err := bl.Build(b.Context(), opt)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		res, err := bl.Build(b.Context(), opt)
		if err != nil {
			b.Fatal(err)
		}
		if res.ImageID != first.ImageID {
			b.Fatalf("rebuild made %s, want %s", res.ImageID, first.ImageID)
		}
	}
	b.StopTimer()
	if err := bl.images.Remove(b.Context(), "bench:1"); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkPrivRunStep is one RUN step made again (no cache), in process:
// the container's create, start, output, exit and removal, and its layer.
func BenchmarkPrivRunStep(b *testing.B) {
	bl := newPrivBuilder(b)
	dir := b.TempDir()
	writeFiles(b, dir, map[string]string{"Dockerfile": "FROM busybox\nRUN echo hi > /hi\n"})
	opt := Options{ContextDir: dir, NoCache: true, Network: "none"}
	for b.Loop() {
		if _, err := bl.Build(b.Context(), opt); err != nil {
			b.Fatal(err)
		}
	}
}

// Command benchregistry serves go-containerregistry's in-memory registry on
// 127.0.0.1, pushes a generated image of random layers to it, prints the
// port on standard output and serves until interrupted or until its
// standard input closes. hack/bench-pull.sh times pulls against it.
//
//	benchregistry [-layers 5] [-size 20] [-repo bench:latest]
package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/berth-dev/berth/internal/testimage"
)

func main() {
	layers := flag.Int("layers", 5, "number of layers")
	size := flag.Int("size", 20, "size of each layer in MiB (random, incompressible)")
	repo := flag.String("repo", "bench:latest", "repository and tag to push")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *layers, *size<<20, *repo); err != nil {
		fmt.Fprintln(os.Stderr, "benchregistry:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, layers, size int, repo string) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: registry.New(registry.Logger(log.New(io.Discard, "", 0)))}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	port := ln.Addr().(*net.TCPAddr).Port

	img, err := randomImage(layers, size)
	if err != nil {
		return err
	}
	ref, err := name.ParseReference(fmt.Sprintf("127.0.0.1:%d/%s", port, repo))
	if err != nil {
		return err
	}
	if err := remote.Write(ref, img, remote.WithContext(ctx)); err != nil {
		return fmt.Errorf("push: %w", err)
	}
	fmt.Println(port)

	// Serve until interrupted or until stdin closes (the script exits).
	stdinClosed := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); close(stdinClosed) }()
	select {
	case <-ctx.Done():
	case <-stdinClosed:
	}
	return nil
}

// randomImage makes an image of n gzip-compressed layers, each a tarball
// holding one file of size random bytes.
func randomImage(n, size int) (v1.Image, error) {
	rng := rand.NewChaCha8([32]byte{1})
	img := empty.Image
	for i := range n {
		data := make([]byte, size)
		_, _ = rng.Read(data)
		var gz bytes.Buffer
		zw, err := gzip.NewWriterLevel(&gz, gzip.BestSpeed)
		if err != nil {
			return nil, err
		}
		if err := testimage.WriteTar(zw, testimage.File(fmt.Sprintf("data%d", i), 0o644, data)); err != nil {
			return nil, err
		}
		if err := zw.Close(); err != nil {
			return nil, err
		}
		b := gz.Bytes()
		l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
		if err != nil {
			return nil, err
		}
		if img, err = mutate.AppendLayers(img, l); err != nil {
			return nil, err
		}
	}
	return img, nil
}

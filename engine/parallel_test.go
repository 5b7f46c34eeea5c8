package engine

import (
	"errors"
	"sync"
	"testing"
)

// TestEachParallel: every index is called once, and the first error is
// returned.
func TestEachParallel(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 20, 100} {
		var mu sync.Mutex
		calls := map[int]int{}
		err := eachParallel(n, func(i int) error {
			mu.Lock()
			defer mu.Unlock()
			calls[i]++
			return nil
		})
		if err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		for i := range n {
			if calls[i] != 1 {
				t.Errorf("n=%d: f(%d) called %d times, want once", n, i, calls[i])
			}
		}
		if len(calls) != n {
			t.Errorf("n=%d: %d indices called, want %d", n, len(calls), n)
		}
	}
	boom := errors.New("boom")
	for _, n := range []int{1, 5, 100} {
		err := eachParallel(n, func(i int) error {
			if i == n-1 {
				return boom
			}
			return nil
		})
		if !errors.Is(err, boom) {
			t.Errorf("n=%d: err = %v, want the call's error", n, err)
		}
	}
}

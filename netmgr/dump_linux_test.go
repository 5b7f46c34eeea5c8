package netmgr

import (
	"errors"
	"testing"

	"github.com/vishvananda/netlink"
)

// TestDumpRetriesInterrupted: a dump a concurrent change interrupted is
// run again until it is whole; one that stays interrupted gives up with
// the error, and other errors are not retried.
func TestDumpRetriesInterrupted(t *testing.T) {
	calls := 0
	got, err := dump(func() ([]int, error) {
		calls++
		if calls < 7 {
			return []int{calls}, netlink.ErrDumpInterrupted
		}
		return []int{1, 2, 3}, nil
	})
	if err != nil || len(got) != 3 || calls != 7 {
		t.Errorf("interrupted 6 times: %v, %v after %d calls; want the 7th, whole", got, err, calls)
	}
	calls = 0
	if _, err := dump(func() ([]int, error) { calls++; return nil, netlink.ErrDumpInterrupted }); !errors.Is(err, netlink.ErrDumpInterrupted) || calls != dumpRetries {
		t.Errorf("always interrupted: %v after %d calls; want the error after %d", err, calls, dumpRetries)
	}
	calls = 0
	boom := errors.New("boom")
	if _, err := dump(func() ([]int, error) { calls++; return nil, boom }); !errors.Is(err, boom) || calls != 1 {
		t.Errorf("another error: %v after %d calls; want it at once", err, calls)
	}
}

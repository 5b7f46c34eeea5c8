package engine

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
	securejoin "github.com/cyphar/filepath-securejoin"
)

type passwdEntry struct {
	name     string
	uid, gid uint32
	home     string
}

type groupEntry struct {
	name    string
	gid     uint32
	members []string
}

// ResolveUser resolves a Docker user ("", "name", "uid", "name:group",
// "uid:gid", …) against an image's /etc/passwd and /etc/group (nil when the
// image has none), as Docker (runc's libcontainer/user) does:
//   - "" is uid 0; a name must be in passwd; a uid need not be (gid 0, home /);
//   - a user found in passwd brings its primary group and home;
//   - an explicit group (name or gid) replaces the primary group, and a group
//     name must be in group; without one, the groups listing the user by
//     name become its additional groups.
//
// An unknown user or group name is an errdefs.ErrInvalidArgument error.
func ResolveUser(spec string, passwd, group io.Reader) (ExecUser, error) {
	u := ExecUser{Home: "/"}
	userArg, groupArg, _ := strings.Cut(spec, ":")
	uid, uidErr := parseID(userArg)
	users, err := parsePasswd(passwd)
	if err != nil {
		return u, err
	}
	var found *passwdEntry
	for i := range users {
		p := &users[i]
		if (userArg == "" && p.uid == 0) || (userArg != "" && uidErr == nil && p.uid == uid) || (uidErr != nil && p.name == userArg) {
			found = p
			break
		}
	}
	switch {
	case found != nil:
		u.UID, u.GID, u.Home = found.uid, found.gid, found.home
	case userArg != "" && uidErr != nil:
		return u, fmt.Errorf("user %q: no such user in the image's /etc/passwd: %w", userArg, errdefs.ErrInvalidArgument)
	case userArg != "":
		u.UID = uid
	}
	if groupArg == "" && found == nil {
		return u, nil
	}
	groups, err := parseGroup(group)
	if err != nil {
		return u, err
	}
	if groupArg != "" {
		gid, gidErr := parseID(groupArg)
		i := slices.IndexFunc(groups, func(g groupEntry) bool {
			return g.name == groupArg || (gidErr == nil && g.gid == gid)
		})
		switch {
		case i >= 0:
			u.GID = groups[i].gid
		case gidErr == nil:
			u.GID = gid
		default:
			return u, fmt.Errorf("group %q: no such group in the image's /etc/group: %w", groupArg, errdefs.ErrInvalidArgument)
		}
		return u, nil
	}
	for _, g := range groups {
		if slices.Contains(g.members, found.name) {
			u.AdditionalGIDs = append(u.AdditionalGIDs, g.gid)
		}
	}
	return u, nil
}

func parseID(s string) (uint32, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	return uint32(n), err
}

// parsePasswd reads passwd lines (name:x:uid:gid:gecos:home:shell),
// skipping comments and malformed lines, as libc does.
func parsePasswd(r io.Reader) ([]passwdEntry, error) {
	var out []passwdEntry
	err := eachLine(r, func(f []string) {
		if len(f) < 4 {
			return
		}
		uid, err1 := parseID(f[2])
		gid, err2 := parseID(f[3])
		if err1 != nil || err2 != nil || f[0] == "" {
			return
		}
		e := passwdEntry{name: f[0], uid: uid, gid: gid, home: "/"}
		if len(f) > 5 && f[5] != "" {
			e.home = f[5]
		}
		out = append(out, e)
	})
	return out, err
}

// parseGroup reads group lines (name:x:gid:member,member).
func parseGroup(r io.Reader) ([]groupEntry, error) {
	var out []groupEntry
	err := eachLine(r, func(f []string) {
		if len(f) < 3 {
			return
		}
		gid, err := parseID(f[2])
		if err != nil || f[0] == "" {
			return
		}
		g := groupEntry{name: f[0], gid: gid}
		if len(f) > 3 && f[3] != "" {
			g.members = strings.Split(f[3], ",")
		}
		out = append(out, g)
	})
	return out, err
}

func eachLine(r io.Reader, fn func(fields []string)) error {
	if r == nil {
		return nil
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		fn(strings.Split(line, ":"))
	}
	return sc.Err()
}

// resolveUserInRootfs resolves spec against the files of the mounted root
// filesystem, following symbolic links inside it only.
func resolveUserInRootfs(rootfs, spec string) (ExecUser, error) {
	open := func(name string) (io.ReadCloser, error) {
		p, err := securejoin.SecureJoin(rootfs, name)
		if err != nil {
			return nil, err
		}
		f, err := os.Open(p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return f, err
	}
	passwd, err := open("/etc/passwd")
	if err != nil {
		return ExecUser{}, err
	}
	group, err := open("/etc/group")
	if err != nil {
		if passwd != nil {
			_ = passwd.Close()
		}
		return ExecUser{}, err
	}
	var pr, gr io.Reader
	if passwd != nil {
		defer passwd.Close()
		pr = passwd
	}
	if group != nil {
		defer group.Close()
		gr = group
	}
	return ResolveUser(spec, pr, gr)
}

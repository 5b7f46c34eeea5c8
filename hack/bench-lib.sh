# bench-lib.sh — what the bench scripts share; sourced, not run.

# install_missing PKG:CMD… installs with apt-get each package whose command
# is missing (CMD a name on PATH, or an absolute path). A package that is
# not installable here is left out, and the bench runs without it.
install_missing() {
  missing=()
  for pc in "$@"; do
    pkg=${pc%%:*} cmd=${pc#*:}
    if [ "${cmd#/}" != "$cmd" ]; then [ -x "$cmd" ] && continue
    else command -v "$cmd" >/dev/null 2>&1 && continue; fi
    missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "bench: missing: ${missing[*]}"
    apt-get update -qq
    installable=() unavailable=()
    for pkg in "${missing[@]}"; do
      cand=$(apt-cache policy "$pkg" 2>/dev/null | awk '/Candidate:/ {print $2}')
      if [ -n "$cand" ] && [ "$cand" != "(none)" ]; then installable+=("$pkg"); else unavailable+=("$pkg"); fi
    done
    [ ${#unavailable[@]} -eq 0 ] || echo "bench: not installable here, the bench runs without: ${unavailable[*]}"
    if [ ${#installable[@]} -gt 0 ]; then
      echo "bench: installing: ${installable[*]}"
      # docker.io's maintainer script must not start a system dockerd (with its
      # NAT rules): policy-rc.d answers "not allowed" while the install runs.
      made_policy=
      if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
        made_policy=1
      fi
      rc=0
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${installable[@]}" >/dev/null || rc=$?
      [ -z "$made_policy" ] || rm -f /usr/sbin/policy-rc.d
      [ "$rc" = 0 ] || echo "bench: apt-get install failed ($rc); the bench runs with what is there" >&2
    fi
  fi
}

# build_berth builds bin/berth as it ships (make: static, its shim
# embedded) and prints a reason to skip berth if that failed, else nothing.
build_berth() {
  local out
  if ! out=$(make --no-print-directory build GO="$GO" 2>&1); then
    echo "make build failed: $(echo "$out" | head -3 | tr '\n' ' ')"
    echo "bench: make build failed" >&2
  fi
}

"""checkdeps.py REQUIREMENTS OUT: import every module REQUIREMENTS names and
write "name version" lines to OUT; fail, naming the line, if one is missing."""
import importlib
import sys

req, out = sys.argv[1], sys.argv[2]
lines = []
with open(req) as f:
    for n, line in enumerate(f, 1):
        name = line.split("#", 1)[0].strip()
        if not name:
            continue
        try:
            mod = importlib.import_module(name)
        except ImportError as e:
            sys.exit(f"{req}:{n}: {name}: {e}")
        lines.append(f"{name} {getattr(mod, '__version__', '(stdlib)')}")
with open(out, "w") as f:
    f.write("\n".join(lines) + "\n")

"""The score of `make mutate` per module, from mutmut's own results (docs/testing.md).

Run from the project root after `mutmut run`: `python -m tests.mutation_score`. It reads
the module list from pyproject.toml ([tool.mutmut] only_mutate), asks `mutmut results --all
true` for the status of every mutant, and prints per module: killed / total and the
percentage. Killed counts what a test failed on (and a timeout: the mutant made a test
hang). Total counts every mutant, those no test reaches included ("no tests" is a gap, not
an excuse). Survivors that docs/testing.md lists as equivalent (the table under
"Equivalent mutants", by mutant name) are shown apart; any other survivor is printed by
name, so that `mutmut show NAME` shows its diff. The exit status is 1 when a module is
below 90 % with its listed equivalents counted as killed, 0 otherwise.
"""

import re
import subprocess
import sys
import tomllib
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = 90.0
CAUGHT = {"killed", "timeout", "caught by type check"}
# A mutant name: module path, then x_function or xǁClassǁmethod, then __mutmut_N.
_NAME = re.compile(r"^(?P<module>[\w.]+?)\.x[_ǁ].*__mutmut_\d+$")
_EQUIVALENT = re.compile(r"^\|\s*`(?P<name>[\w.ǁ]+__mutmut_\d+)`\s*\|", re.MULTILINE)


def modules() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mutmut"]
    return [path.removesuffix(".py").replace("/", ".") for path in config["only_mutate"]]


def equivalents() -> set[str]:
    """The mutants docs/testing.md lists as equivalent, each with its reason."""
    text = (ROOT / "docs" / "testing.md").read_text()
    return set(_EQUIVALENT.findall(text))


def results() -> dict[str, str]:
    mutmut = Path(sys.executable).parent / "mutmut"
    out = subprocess.run(
        [str(mutmut), "results", "--all", "true"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    status = {}
    for line in out.splitlines():
        name, sep, state = line.strip().rpartition(": ")
        if sep and _NAME.match(name):
            status[name] = state
    return status


def main() -> int:
    status = results()
    listed = equivalents()
    by_module: dict[str, Counter] = defaultdict(Counter)
    open_survivors: dict[str, list[str]] = defaultdict(list)
    for name, state in sorted(status.items()):
        module = _NAME.match(name)["module"]
        counts = by_module[module]
        counts["total"] += 1
        if state in CAUGHT:
            counts["killed"] += 1
        elif name in listed and state != "not checked":  # a listed one must have run
            counts["equivalent"] += 1
        else:
            counts[state] += 1
            open_survivors[module].append(f"{name} ({state})")
    failed = False
    print(f"{'module':28} {'killed':>13} {'score':>7} {'+equivalent':>12}  survivors")
    for module in modules():
        counts = by_module.get(module)
        if not counts:
            print(f"{module:28} {'not run':>13}")
            failed = True
            continue
        total, killed = counts["total"], counts["killed"]
        if counts["not checked"] == total:
            print(f"{module:28} {'not run':>13} ({total} mutants)")
            failed = True
            continue
        score = 100.0 * killed / total
        explained = 100.0 * (killed + counts["equivalent"]) / total
        failed |= explained < TARGET
        rest = ", ".join(
            f"{n} {state}"
            for state, n in sorted(counts.items())
            if state not in {"total", "killed", "equivalent"}
        )
        print(
            f"{module:28} {killed:>6} / {total:<5} {score:6.1f}% {explained:11.1f}%  {rest or '-'}"
        )
    for module, names in open_survivors.items():
        names = [n for n in names if not n.endswith("(not checked)")]
        if not names:
            continue
        print(f"\n{module}: not killed and not listed in docs/testing.md")
        for name in names:
            print(f"  {name}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""The module boundaries of ../shared/DESIGN.md, checked on the source text (issue 11).

The CMake link graph is the one statement of which module may use which: a module may include
the headers of the modules it links (directly or through them) and no other. On top of it:
- Asio only where `ferry::asio` is reached through the graph (tls and what sits on it); the
  std-only modules (proto, config, vfs, auth) and sandbox never include it.
- OpenSSL headers, SSL_* calls and OpenSSL pointer types only in src/tls (apps/ included), and
  there only in sources and internal headers (src/tls/detail), never in tls' public headers:
  server and client reach TLS through tls::stream, tls::context and tls::client_context.

Usage: check_layering.py ROOT          check the tree at ROOT (the project's top folder)
       check_layering.py --self-test   plant each kind of violation in a scratch tree and
                                       show the check catches it (and passes a clean tree)
"""
from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

LINK = re.compile(r"target_link_libraries\(\s*ferry_(\w+)\s+([^)]*)\)")
LOCAL_INCLUDE = re.compile(r'^\s*#\s*include\s+"(\w+)/', re.M)
SYSTEM_INCLUDE = re.compile(r"^\s*#\s*include\s+<(asio|openssl)[/.>]", re.M)
# A call (SSL_read(...)) or a pointer to an OpenSSL type (SSL_CTX* ctx).
SSL_CALL = re.compile(r"\b(?:SSL|SSL_CTX|X509|EVP)_\w+\s*\(|\b(?:SSL|SSL_CTX|SSL_SESSION|X509|EVP_PKEY)\s*\*"
                      # OpenSSL's constants: protocol versions, option and error names
                      r"|\bTLS1(?:_[0-9])?_VERSION\b|\bOPENSSL_\w+|\bSSL_(?:OP|MODE|ERROR|VERIFY|SESS)_\w+")
COMMENT = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)


def link_graph(cmake_text: str) -> dict[str, set[str]]:
    """module -> what it links (ferry_X as X, ferry::asio as 'asio', OpenSSL as 'openssl')."""
    graph: dict[str, set[str]] = {}
    for module, args in LINK.findall(cmake_text):
        deps = graph.setdefault(module, set())
        for word in args.split():
            if word.startswith("ferry_"):
                deps.add(word[len("ferry_"):])
            elif word == "ferry::asio":
                deps.add("asio")
            elif word.startswith("OpenSSL::"):
                deps.add("openssl")
    return graph


def reach(graph: dict[str, set[str]], module: str) -> set[str]:
    seen, todo = {module}, [module]
    while todo:
        for dep in graph.get(todo.pop(), ()):
            if dep not in seen:
                seen.add(dep)
                todo.append(dep)
    return seen


def check(root: Path) -> list[str]:
    graph = link_graph((root / "CMakeLists.txt").read_text())
    problems: list[str] = []
    for module_dir in sorted(p for p in (root / "src").iterdir() if p.is_dir()):
        module = module_dir.name
        if module not in graph:
            graph[module] = set()  # a module with no link line may use nothing but itself
        allowed = reach(graph, module)
        for f in sorted(module_dir.rglob("*.[ch]pp")):
            rel = f.relative_to(root).as_posix()
            text = f.read_text(errors="replace")
            for used in sorted(set(LOCAL_INCLUDE.findall(text))):
                if (root / "src" / used).is_dir() and used not in allowed:
                    problems.append(f"{rel}: includes {used}/ but ferry_{module} does not link ferry_{used}")
            for lib in sorted(set(SYSTEM_INCLUDE.findall(text))):
                if lib == "asio" and "asio" not in allowed:
                    problems.append(f"{rel}: includes Asio, which ferry_{module} does not link")
                if lib == "openssl" and module != "tls":
                    problems.append(f"{rel}: includes OpenSSL outside src/tls")
                # tls' public headers (not tls/detail/) include no OpenSSL header: whoever uses
                # tls cannot reach OpenSSL through them.
                if lib == "openssl" and module == "tls" and f.suffix == ".hpp" and f.parent == module_dir:
                    problems.append(f"{rel}: a public tls header includes OpenSSL (keep it in src/tls/detail)")
            m = SSL_CALL.search(COMMENT.sub("", text))
            if module != "tls" and m:
                problems.append(f"{rel}: uses OpenSSL ({m.group(0)}) outside src/tls")
            if module == "tls" and m and f.suffix == ".hpp" and f.parent == module_dir:
                problems.append(f"{rel}: a public tls header uses OpenSSL ({m.group(0)})")
    for app in sorted((root / "apps").rglob("*.[ch]pp")) if (root / "apps").is_dir() else []:
        rel = app.relative_to(root).as_posix()
        m = SSL_CALL.search(COMMENT.sub("", app.read_text(errors="replace")))
        if m:
            problems.append(f"{rel}: uses OpenSSL ({m.group(0)}) outside src/tls")
    return problems


def self_test() -> int:
    cmake = ("target_link_libraries(ferry_config PUBLIC ferry_proto)\n"
             "target_link_libraries(ferry_tls PUBLIC ferry::asio OpenSSL::SSL)\n"
             "target_link_libraries(ferry_net PUBLIC ferry_tls ferry_proto)\n"
             "target_link_libraries(ferry_server PUBLIC ferry_net ferry_config)\n")
    clean = {
        "src/proto/a.cpp": '#include "proto/a.hpp"\n#include <string>\n',
        "src/config/b.cpp": '#include "proto/a.hpp"\n',
        "src/tls/c.cpp": "#include <openssl/ssl.h>\nvoid f() { SSL_free(nullptr); }\n",
        "src/tls/c.hpp": "struct ssl_st;\n",
        "src/tls/detail/o.hpp": "#include <openssl/ssl.h>\n",
        "src/net/d.cpp": '#include <asio.hpp>\n#include "tls/c.hpp"\n',
        "src/server/e.cpp": '#include "net/d.hpp"\n#include "config/b.hpp"\n// SSL_free(x) in a comment is fine\n',
    }
    planted = {
        "Asio in a std-only module": ("src/proto/a.cpp", "#include <asio/ip/tcp.hpp>\n", "includes Asio"),
        "a module it does not link": ("src/config/b.cpp", '#include "server/e.hpp"\n', "does not link ferry_server"),
        "OpenSSL header outside tls": ("src/net/d.cpp", "#include <openssl/err.h>\n", "includes OpenSSL outside"),
        "SSL_ call outside tls": ("src/server/e.cpp", "int g(void* s) { return SSL_pending(s); }\n", "uses OpenSSL"),
        "OpenSSL type outside tls": ("src/net/d.cpp", "void h(SSL_CTX* c);\n", "uses OpenSSL"),
        "OpenSSL constant outside tls": ("src/server/e.cpp", "int v = TLS1_3_VERSION;\n", "uses OpenSSL"),
        "OpenSSL in a public tls header": ("src/tls/c.hpp", "#include <openssl/ssl.h>\n", "public tls header"),
        "an OpenSSL call in a public tls header": ("src/tls/c.hpp", "inline int p(SSL* s) { return SSL_pending(s); }\n",
                                                   "public tls header"),
    }
    failures = 0

    def run(files: dict[str, str]) -> list[str]:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            (root / "CMakeLists.txt").write_text(cmake)
            for name, text in files.items():
                (root / name).parent.mkdir(parents=True, exist_ok=True)
                (root / name).write_text(text)
            return check(root)

    got = run(clean)
    if got:
        print(f"self-test: the clean tree was refused: {got}")
        failures += 1
    for what, (name, line, expect) in planted.items():
        files = dict(clean)
        files[name] = files[name] + line
        got = run(files)
        if not any(expect in p and name in p for p in got):
            print(f"self-test: {what} ({name}) not caught: {got}")
            failures += 1
        else:
            print(f"self-test: caught {what}: {got[0]}")
    return 1 if failures else 0


def main() -> int:
    if sys.argv[1:] == ["--self-test"]:
        return self_test()
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    problems = check(Path(sys.argv[1]))
    for p in problems:
        print(p)
    if not problems:
        print("layering: every module includes only what it links; OpenSSL stays in src/tls")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

"""Kernel-side guard: references taken before the student's first cell, restored before each test cell.

The executor runs :data:`INSTALL` silently right after the kernel starts (nothing is stored in the
student's namespace or history). It snapshots the functions and hooks that the tests depend on:

* module dictionaries: ``builtins``, ``math``, ``operator``, ``numpy``, ``numpy.testing``, ``numpy.linalg``,
  ``pandas``, ``pandas.testing`` (and their ``sys.modules`` entries);
* the methods of pandas' ``DataFrame``/``Series``/``Index``/``NDFrame`` and of IPython's shell, compiler and
  kernel classes (overrides added to a class are removed);
* ``sys.excepthook``/``displayhook``/trace and profile functions, IPython's exception handling
  (``set_custom_exc``, ``showtraceback``...), input and AST transformers, event callbacks, the shell's
  message handlers; the aliases ``np``/``pd``/``math`` in the student's namespace.

Before each autograder test cell the executor calls the guard (:func:`restore_code`): everything that
differs is put back, and the list of what differed is returned (the submission is then ``tampered``).
The guard lives under a random name in ``sys.modules`` and keeps its own copy of the builtins, so the
student's code cannot find it by name nor change the builtins it uses; a process that runs arbitrary
code can still find it through the garbage collector (see README: what an attacker can still do).
"""
from __future__ import annotations

import ast
import json

INSTALL = r'''
def _mlbd_install(token):
    import sys, types, builtins, math, operator
    import numpy, numpy.testing, numpy.linalg, pandas, pandas.testing
    from IPython import get_ipython
    ip = get_ipython()
    MISSING = object()
    ALLOWED = ("matplotlib", "matplotlib_inline", "IPython", "ipykernel", "ipywidgets", "traitlets",
               "tqdm", "comm", "jupyter_client", "debugpy")
    Method = types.MethodType

    def same(a, b):
        if a is b:
            return True
        return (type(a) is Method and type(b) is Method and a.__func__ is b.__func__
                and a.__self__ is b.__self__)

    modules = {m.__name__: m for m in (builtins, math, operator, numpy, numpy.testing, numpy.linalg,
                                        pandas, pandas.testing, sys)}
    mod_snap = {}
    for name, m in modules.items():
        d = dict(vars(m))
        if name == "builtins":   # C builtins and exception types (IPython swaps input, display... itself)
            d = {k: v for k, v in d.items() if getattr(v, "__module__", None) == "builtins"
                 and (not k.startswith("_") or k in ("__import__", "__build_class__"))}
        if name == "sys":
            d = {k: d[k] for k in ("settrace", "setprofile", "gettrace", "getprofile", "addaudithook",
                                   "modules") if k in d}
        mod_snap[name] = d
    classes = []
    for cls in (pandas.DataFrame, pandas.Series, pandas.Index, pandas.core.generic.NDFrame,
                *type(ip).__mro__, *type(ip.compile).__mro__, *type(ip.kernel).__mro__,
                *type(ip.kernel.session).__mro__):
        if cls is not object and cls not in [c for c, _ in classes]:
            classes.append((cls, dict(vars(cls))))
    inst = []
    EXTRA = {"custom_exceptions", "CustomTB", "compile", "session", "shell_handlers", "events",
             "input_transformer_manager", "kernel"}
    for obj in (ip, ip.compile, ip.kernel, ip.kernel.session, ip.events, ip.input_transformer_manager):
        names = {k for k in dir(type(obj)) if not k.startswith("__") and callable(getattr(type(obj), k, None))
                 and not isinstance(getattr(type(obj), k, None), type)}
        names |= {k for k in EXTRA if k in vars(obj)} | {"__call__"}
        inst.append((obj, dict(vars(obj)), sorted(names)))
    trait_snap = dict(getattr(ip, "_trait_values", {}))
    lists = []
    for obj, attr in ((ip, "ast_transformers"), (ip, "input_transformers_post"),
                      (ip.input_transformer_manager, "cleanup_transforms"),
                      (ip.input_transformer_manager, "line_transforms"),
                      (ip.input_transformer_manager, "token_transformers")):
        lst = getattr(obj, attr, None)
        if isinstance(lst, list):
            lists.append((obj, attr, lst, list(lst)))
    events = {k: list(v) for k, v in ip.events.callbacks.items()}
    handlers = dict(getattr(ip.kernel, "shell_handlers", {}))
    sys_modules = {k: sys.modules[k] for k in modules}
    trace, profile = sys.gettrace(), sys.getprofile()
    excepthook, displayhook = sys.excepthook, sys.displayhook
    aliases = {"np": numpy, "pd": pandas, "math": math}

    def allowed(f):
        mod = getattr(f, "__module__", None) or getattr(getattr(f, "__func__", None), "__module__", None) or ""
        return isinstance(mod, str) and mod.split(".")[0] in ALLOWED

    def restore():
        found = []
        # sys.modules and modules first: everything below may use them
        for k, m in sys_modules.items():
            if sys.modules.get(k) is not m:
                sys.modules[k] = m
                found.append(f"sys.modules[{k!r}]")
        for name, snap in mod_snap.items():
            d = vars(modules[name])
            for k, v in snap.items():
                if not same(d.get(k, MISSING), v):
                    d[k] = v
                    if not (name == "sys" and k in ("stdout", "stderr")):
                        found.append(f"{name}.{k}")
        if sys.gettrace() is not trace:
            sys.settrace(trace)
            found.append("sys.settrace")
        if sys.getprofile() is not profile:
            sys.setprofile(profile)
            found.append("sys.setprofile")
        for cls, snap in classes:
            d = vars(cls)
            for k, v in snap.items():
                if not same(d.get(k, MISSING), v):
                    type.__setattr__(cls, k, v) if isinstance(cls, type) else setattr(cls, k, v)
                    found.append(f"{cls.__module__}.{cls.__name__}.{k}")
            for k in [k for k in d if k not in snap]:
                if any(k in vars(base) for base in cls.__mro__[1:]):
                    try:
                        type.__delattr__(cls, k)
                    except (AttributeError, TypeError):
                        pass
                    found.append(f"{cls.__module__}.{cls.__name__}.{k} (override added)")
        for obj, snap, names in inst:
            d = vars(obj)
            for k in names:
                cur, v = d.get(k, MISSING), snap.get(k, MISSING)
                if not same(cur, v):
                    if v is MISSING:
                        del d[k]
                    else:
                        d[k] = v
                    found.append(f"{type(obj).__name__}.{k}")
        tv = getattr(ip, "_trait_values", None)
        if isinstance(tv, dict):
            for k, v in trait_snap.items():
                if not same(tv.get(k, MISSING), v) and (callable(v) or isinstance(v, list)):
                    tv[k] = v
                    found.append(f"InteractiveShell.{k}")
        for obj, attr, lst, content in lists:
            if getattr(obj, attr, None) is not lst:
                setattr(obj, attr, lst)
                found.append(attr)
            extra = [f for f in lst if f not in content and not allowed(f)]
            if extra or any(f not in lst for f in content):
                found += [f"{attr} (added {getattr(f, '__name__', type(f).__name__)})" for f in extra]
                lst[:] = content + [f for f in lst if f not in content and allowed(f)]
        cbs = ip.events.callbacks
        for k, v in events.items():
            cur = cbs.get(k)
            if not isinstance(cur, list):
                cbs[k] = cur = []
            extra = [f for f in cur if f not in v and not allowed(f)]
            if extra:
                found += [f"events[{k!r}] (added {getattr(f, '__name__', type(f).__name__)})" for f in extra]
            kept = [f for f in cur if f not in v and allowed(f)]
            cur[:] = v + kept
        sh = getattr(ip.kernel, "shell_handlers", None)
        if isinstance(sh, dict):
            for k, v in handlers.items():
                if not same(sh.get(k, MISSING), v):
                    sh[k] = v
                    found.append(f"kernel.shell_handlers[{k!r}]")
        if ip.custom_exceptions != ():
            ip.custom_exceptions = ()
            found.append("set_custom_exc")
        if sys.excepthook is not excepthook and not allowed(sys.excepthook):
            sys.excepthook = excepthook
            found.append("sys.excepthook")
        ns = ip.user_ns
        for k, m in aliases.items():
            if k in ns and ns[k] is not m:
                if k != "math" or isinstance(ns[k], types.ModuleType):
                    ns[k] = m
                    found.append(f"{k} rebound in the notebook")
        return sorted(set(found))

    mod = types.ModuleType(token)
    mod.restore = restore
    sys.modules[token] = mod
    return None

_mlbd_install(TOKEN)
'''


def install_code(token: str) -> str:
    """Code that installs the guard (runs in a fresh namespace with a private copy of the builtins)."""
    src = INSTALL.replace("TOKEN", repr(token))
    return (f"(lambda __b: exec(compile({src!r}, '<mlbd-guard>', 'exec'), "
            "{'__builtins__': dict(vars(__b)), '__name__': '__mlbd__'}))(__import__('builtins'))")


def restore_code(token: str) -> str:
    """An expression whose value is the JSON list of what the guard had to restore."""
    return f"__import__('json').dumps(__import__('sys').modules[{token!r}].restore())"


def parse_reply(reply: dict | None, key: str = "r") -> list[str] | None:
    """What was restored, from an ``execute_reply``'s ``user_expressions``; ``None`` if the guard is gone."""
    try:
        expr = reply["content"]["user_expressions"][key]
        if expr.get("status") != "ok":
            return None
        text = ast.literal_eval(expr["data"]["text/plain"])  # the repr of a str; never eval'd
        return [str(x) for x in json.loads(text)]
    except Exception:
        return None

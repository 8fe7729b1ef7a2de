"""Predictor loading: imports the predictor file and constructs its class
(Cortex's PythonPredictor or Handler), and calls its methods with the
arguments their signatures ask for."""

import importlib.util
import inspect
import os
import sys


class Invoker:
    """Calls a predictor method, passing query_params / headers only when it accepts them."""

    __slots__ = ("fn", "payload", "query", "headers", "simple")

    def __init__(self, fn, with_payload):
        self.fn = fn
        try:
            params = inspect.signature(fn).parameters
        except (TypeError, ValueError):
            params = {}
        names = list(params)
        var_kw = any(p.kind == inspect.Parameter.VAR_KEYWORD for p in params.values())
        positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD,
                      inspect.Parameter.VAR_POSITIONAL)
        if with_payload:
            self.payload = bool(names) and names[0] not in ("query_params", "headers") and \
                params[names[0]].kind in positional
        else:
            self.payload = "payload" in params
        self.query = "query_params" in params or var_kw
        self.headers = "headers" in params or var_kw
        self.simple = self.payload and not self.query and not self.headers


def _construct(cls, config):
    try:
        params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    except (TypeError, ValueError):
        return cls(config)
    required = [p.name for p in params
                if p.default is inspect.Parameter.empty and p.name != "config"
                and p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY,
                               inspect.Parameter.POSITIONAL_ONLY)]
    if params and params[0].name != "config" and params[0].kind != inspect.Parameter.KEYWORD_ONLY:
        required = required[1:]  # the first positional parameter receives config
    if required:
        raise TypeError(
            "%s.__init__ requires %s; mlserve passes only config (Cortex's python_client, "
            "tensorflow_client, job_spec and similar are not supported)"
            % (cls.__name__, ", ".join(required)))
    if any(p.name == "config" for p in params):
        return cls(config=config)
    if params and params[0].kind in (inspect.Parameter.POSITIONAL_ONLY,
                                     inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                     inspect.Parameter.VAR_POSITIONAL):
        return cls(config)
    return cls()


class Methods(dict):
    """{METHOD(bytes): Invoker}, and `batch`: the predictor's predict_batch(payloads), when it defines one."""

    batch = None


_HANDLER_METHODS = (("POST", "handle_post"), ("GET", "handle_get"), ("PUT", "handle_put"),
                    ("PATCH", "handle_patch"), ("DELETE", "handle_delete"))


def load_predictor(project_dir, predictor_path, config):
    """Import the predictor file and construct its class; returns Methods ({METHOD(bytes): Invoker}, and .batch)."""
    path = predictor_path if os.path.isabs(predictor_path) else os.path.join(project_dir, predictor_path)
    mod_name = os.path.splitext(os.path.basename(path))[0] or "predictor"
    if mod_name in sys.modules or not mod_name.isidentifier():
        mod_name = "mlserve_predictor"
    if not os.path.isfile(path):
        raise FileNotFoundError("predictor file %s does not exist" % path)
    spec = importlib.util.spec_from_file_location(mod_name, path)
    if spec is None or spec.loader is None:
        raise ImportError("cannot load predictor file %s (not a .py file?)" % path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module
    spec.loader.exec_module(module)

    methods = Methods()
    instance = None
    if hasattr(module, "PythonPredictor"):
        cls = module.PythonPredictor
        if not callable(getattr(cls, "predict", None)):
            raise TypeError("class PythonPredictor in %s has no predict(self, payload) method" % path)
        instance = _construct(cls, config)
        methods[b"POST"] = Invoker(instance.predict, True)
    elif hasattr(module, "Handler"):
        cls = module.Handler
        instance = _construct(cls, config)
        for method, attr in _HANDLER_METHODS:
            fn = getattr(instance, attr, None)
            if callable(fn):
                methods[method.encode()] = Invoker(fn, method != "GET")
        if not methods:
            raise TypeError("class Handler in %s defines none of handle_post, handle_get, handle_put, "
                            "handle_patch, handle_delete" % path)
    else:
        raise AttributeError("%s defines neither class PythonPredictor (with predict) nor class Handler "
                             "(with handle_post)" % path)
    predict_batch = getattr(instance, "predict_batch", None)
    if callable(predict_batch):
        methods.batch = Invoker(predict_batch, True)
    return methods

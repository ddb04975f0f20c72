"""`barenet export MODEL --to torch|onnx [OUT]` and `barenet import-torch IN OUT`: models out of and into barenet."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("export", help="write a model as a PyTorch state dict (safetensors) or an ONNX graph")
    p.add_argument("model", help="a barenet model file (.safetensors)")
    p.add_argument("--to", required=True, choices=["torch", "onnx"], help="the target format")
    p.add_argument("out", nargs="?", help="the file to write (torch: required; onnx: default MODEL with .onnx)")
    p.add_argument("--output", "-o", dest="output", metavar="PATH", help="the file to write (instead of OUT)")
    p.add_argument("--force", action="store_true", help="overwrite OUT if it exists")
    p.set_defaults(func=run_export)
    _read_positionals_across_options(p)

    p = sub.add_parser("import-torch", help="turn a PyTorch nn.Sequential state dict into a barenet model",
                       description="Reads an nn.Sequential of Linear layers and activations saved with "
                                   "safetensors. Files written by 'barenet export' carry their architecture; "
                                   "for others give --arch or --activation.")
    p.add_argument("input", metavar="IN", help="a .safetensors state dict (keys like '0.weight', '0.bias')")
    p.add_argument("out", metavar="OUT", help="the barenet model file to write")
    p.add_argument("--arch", help="every module in order, e.g. 'linear,relu,dropout:0.2,linear' "
                                  "(linear, relu, leaky_relu[:alpha], sigmoid, tanh, softmax, flatten, dropout[:p])")
    p.add_argument("--activation", help="one activation between consecutive Linear layers (relu, tanh, ...)")
    p.add_argument("--output", default="softmax", choices=["softmax", "sigmoid", "linear"],
                   help="what the last layer's outputs are turned into (default softmax)")
    p.add_argument("--force", action="store_true", help="overwrite OUT if it exists")
    p.set_defaults(func=run_import)


def run_export(args) -> int:
    from ..models.loading import load

    out = _export_path(args)
    model = load(args.model, compile=False)
    if args.to == "onnx":
        return _export_onnx(model, out, args.force)
    from ..pytorch.files import export_torch

    snippet = export_torch(model, out, force=args.force)
    print(f"wrote {out}: PyTorch nn.Sequential state dict ({model.count_params():,} parameters)")
    print("load it with:\n")
    print(snippet)
    return 0


def _read_positionals_across_options(parser) -> None:
    """Let OUT follow the options (`export MODEL --to torch OUT`, as before OUT became optional).

    argparse gives an optional positional its (empty) match within the first run of positionals, so a
    later OUT would be "unrecognized"; `parse_known_intermixed_args` reads positionals across options.
    """

    class Intermixed(type(parser)):  # type: ignore[misc]
        _inside = False

        def parse_known_args(self, args=None, namespace=None):
            if self._inside:  # parse_known_intermixed_args calls back in here for its two passes
                return super().parse_known_args(args, namespace)
            self._inside = True
            try:
                return self.parse_known_intermixed_args(args, namespace)
            finally:
                self._inside = False

    parser.__class__ = Intermixed


def _export_path(args) -> str:
    """OUT or --output (not both); for ONNX the model's path with .onnx when neither is given."""
    from pathlib import Path

    from ..errors import ConfigError

    if args.out and args.output:
        raise ConfigError("give the output file once: as OUT or as --output")
    out = args.out or args.output
    if out:
        return out
    if args.to == "onnx":
        return str(Path(args.model).with_suffix(".onnx"))
    raise ConfigError("export --to torch needs the file to write: barenet export MODEL --to torch OUT")


def _export_onnx(model, out: str, force: bool) -> int:
    from ..models.onnx_export import export_onnx

    path = export_onnx(model, out, force=force)
    scale = (model.extra or {}).get("input", {}).get("scale", "unit")
    print(f"wrote {path}: ONNX graph ({model.count_params():,} parameters); input 'pixels' (N, {model.in_features}) "
          f"gray levels 0-255, scaled inside the graph ({scale}); outputs 'logits' and 'probabilities'")
    return 0


def run_import(args) -> int:
    from ..pytorch.files import import_torch

    model = import_torch(args.input, args.out, arch=args.arch, activation=args.activation,
                                 output=args.output, force=args.force)
    print(f"wrote {args.out}: {len(model.layers)} layers, {model.count_params():,} parameters")
    model.summary()
    return 0

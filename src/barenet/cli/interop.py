"""`barenet export MODEL --to torch OUT` and `barenet import-torch IN OUT`: PyTorch nn.Sequential files."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("export", help="write a model as a PyTorch nn.Sequential state dict (safetensors)")
    p.add_argument("model", help="a barenet model file (.safetensors)")
    p.add_argument("--to", required=True, choices=["torch"], help="the target framework")
    p.add_argument("out", help="the state dict file to write (.safetensors)")
    p.add_argument("--force", action="store_true", help="overwrite OUT if it exists")
    p.set_defaults(func=run_export)

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
    from ..pytorch.files import export_torch

    model = load(args.model, compile=False)
    snippet = export_torch(model, args.out, force=args.force)
    print(f"wrote {args.out}: PyTorch nn.Sequential state dict ({model.count_params():,} parameters)")
    print("load it with:\n")
    print(snippet)
    return 0


def run_import(args) -> int:
    from ..pytorch.files import import_torch

    model = import_torch(args.input, args.out, arch=args.arch, activation=args.activation,
                                 output=args.output, force=args.force)
    print(f"wrote {args.out}: {len(model.layers)} layers, {model.count_params():,} parameters")
    model.summary()
    return 0

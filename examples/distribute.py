"""Mixed precision and multi-GPU training for the chapter 9-12 example scripts.

The one module of the examples that imports TensorFlow (and only for
`--strategy mirrored`): the library itself stays backend-neutral Keras 3.

A training script adds the switches to its parser and configures itself once,
before it builds or loads a model:

```python
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from distribute import add_gpu_arguments, configure

add_gpu_arguments(parser)
...
dist = configure(args)                      # policy, strategy, global batch size
trainGen = HDF5DatasetGenerator(path, dist.batch_size, ...)
with dist.scope():
    model = Network.build(...)   # the book's networks end in a float32 softmax
    model.compile(...)
model.fit(trainGen, ...)
```

`--batch-size` is the batch of one replica (one GPU), as in the book; with
MirroredStrategy on N GPUs every step takes N times as many images (the global
batch), split evenly across the GPUs, as Keras' distributed-training guide
recommends.
"""

import contextlib
import dataclasses

STRATEGIES = ("none", "mirrored")
MIXED_POLICY = "mixed_float16"


def add_gpu_arguments(parser):
    """Adds `--mixed-precision` and `--strategy` to an argparse parser.

    Args:
        parser: an `argparse.ArgumentParser`.

    Returns:
        The parser.
    """
    group = parser.add_argument_group("GPU options")
    group.add_argument("--mixed-precision", action="store_true",
                       help="compute in float16 with float32 weights (Keras' mixed_float16 "
                            "policy); faster on GPUs with tensor cores")
    group.add_argument("--strategy", choices=STRATEGIES, default="none",
                       help="none (one device, default) or mirrored (TensorFlow's "
                            "MirroredStrategy: one replica per visible GPU, batch size "
                            "per replica)")
    return parser


@dataclasses.dataclass
class Distribution:
    """How a script trains: the strategy, its replicas and the global batch size.

    Attributes:
        strategy: a `tf.distribute.Strategy`, or None for the default device.
        replicas: number of replicas that train in sync.
        batch_size: the global batch size (per-replica batch x replicas).
        mixed_precision: whether the `mixed_float16` policy is set.
    """

    strategy: object
    replicas: int
    batch_size: int
    mixed_precision: bool

    def scope(self):
        """The context in which to build, load and compile the model."""
        if self.strategy is None:
            return contextlib.nullcontext()
        return self.strategy.scope()


def configure(args, batch_size=None):
    """Sets the dtype policy and the distribution strategy from the parsed switches.

    Call it once, before any model is built or loaded.

    Args:
        args: parsed arguments with `mixed_precision` and `strategy`
            (and `batch_size` when `batch_size` is None).
        batch_size: the per-replica batch size; `args.batch_size` by default.

    Returns:
        A `Distribution`.

    Raises:
        ValueError: an unknown strategy, a non-positive batch size, or
            `--strategy mirrored` on a backend other than TensorFlow.
    """
    import keras

    per_replica = args.batch_size if batch_size is None else batch_size
    if isinstance(per_replica, bool) or not isinstance(per_replica, int) or per_replica < 1:
        raise ValueError(f"--batch-size must be a positive integer, got {per_replica!r}.")
    if args.strategy not in STRATEGIES:
        raise ValueError(f"--strategy must be one of {STRATEGIES}, got {args.strategy!r}.")
    if args.mixed_precision:
        keras.mixed_precision.set_global_policy(MIXED_POLICY)
    strategy = None
    replicas = 1
    if args.strategy == "mirrored":
        if keras.backend.backend() != "tensorflow":
            raise ValueError(
                f"--strategy mirrored needs the TensorFlow backend, but KERAS_BACKEND is "
                f"{keras.backend.backend()!r}; set KERAS_BACKEND=tensorflow or use "
                f"--strategy none."
            )
        import tensorflow as tf

        strategy = tf.distribute.MirroredStrategy()
        replicas = int(strategy.num_replicas_in_sync)
    dist = Distribution(strategy=strategy, replicas=replicas,
                        batch_size=per_replica * replicas,
                        mixed_precision=bool(args.mixed_precision))
    print(f"[INFO] strategy: {args.strategy}, {replicas} replica(s), global batch size "
          f"{dist.batch_size} ({per_replica} per replica), precision: "
          f"{MIXED_POLICY if dist.mixed_precision else 'float32'}")
    return dist

"""GFLOP/s of a bare 1×1 convolution (and the same MatMul) at VanillaNet-5's deploy shapes.

The fp32 ceiling that the fused VanillaNet-5 runs against on this CPU.

    python benchmarks/pointwise_conv_throughput.py
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from absl import app, flags  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_integer("runs", 20, "Timed runs per shape (median reported).")

# (side, in, out) of VanillaNet-5's three stage convolutions at 224².
SHAPES = [(56, 512, 1024), (28, 1024, 2048), (14, 2048, 4096)]


def main(argv):
    del argv
    import numpy as np
    import tensorflow as tf

    from benchmarks.common import write_results
    from keras_minimal.deploy.latency import measure_latency

    results = []
    for side, cin, cout in SHAPES:
        x = tf.constant(np.random.default_rng(0).random((1, side, side, cin), "float32"))
        kernel = tf.constant(np.random.default_rng(1).random((1, 1, cin, cout), "float32"))
        matrix = tf.reshape(kernel, (cin, cout))
        conv = tf.function(lambda x, k=kernel: tf.nn.conv2d(x, k, 1, "VALID"))
        matmul = tf.function(lambda x, m=matrix: tf.matmul(tf.reshape(x, (-1, m.shape[0])), m))
        flops = 2 * side * side * cin * cout
        row = {"shape": [side, cin, cout]}
        for label, function in (("conv2d", conv), ("matmul", matmul)):
            ms = measure_latency(lambda x, f=function: f(x).numpy(), x, runs=FLAGS.runs)[
                "median_ms"
            ]
            gflops = flops / ms / 1e6
            row[label] = {"median_ms": ms, "gflops": gflops}
            print(f"{side}x{side} {cin}->{cout} {label:<7}{ms:7.2f} ms {gflops:6.0f} GFLOP/s")
        results.append(row)
    print(f"wrote {write_results('pointwise_conv_throughput', results)}")


if __name__ == "__main__":
    app.run(main)

"""A worker of the multi-worker tests: ``worker.py train|restore DIRECTORY``.

``train`` trains a small Keras model for four steps under
MultiWorkerMirroredStrategy and saves with ``save_on_workers``; ``restore``
restores the latest checkpoint of DIRECTORY with tfpersist. Both print one
JSON line: the task, and every weight and optimizer variable.
"""

import json
import sys

import numpy as np
import tensorflow as tf

from tfpersist import checkpoint_state, distributed, restoring


def main() -> None:
    mode, directory = sys.argv[1], sys.argv[2]
    strategy = tf.distribute.MultiWorkerMirroredStrategy()  # before any other op
    tf.keras.utils.set_random_seed(0)
    with strategy.scope():
        model = tf.keras.Sequential(
            [
                tf.keras.Input((3,)),
                tf.keras.layers.Dense(4, activation="relu"),
                tf.keras.layers.Dense(1),
            ]
        )
        optimizer = tf.keras.optimizers.Adam(0.05)
        optimizer.build(model.trainable_variables)  # its slots exist before a restore
    ckpt = tf.train.Checkpoint(model=model, optimizer=optimizer)

    if mode == "train":
        x = (np.arange(96, dtype=np.float32).reshape(32, 3) % 7) / 7
        y = x @ np.array([[1.0], [-2.0], [0.5]], np.float32) + 0.3
        data = tf.data.Dataset.from_tensor_slices((x, y)).repeat().batch(8)
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = (
            tf.data.experimental.AutoShardPolicy.DATA
        )
        batches = iter(strategy.experimental_distribute_dataset(data.with_options(options)))

        @tf.function
        def train_step(batch):
            def step(x, y):
                with tf.GradientTape() as tape:
                    errors = tf.reduce_sum((model(x, training=True) - y) ** 2, axis=1)
                    loss = tf.nn.compute_average_loss(errors, global_batch_size=8)
                grads = tape.gradient(loss, model.trainable_variables)
                pairs = zip(grads, model.trainable_variables)  # noqa: B905 (AutoGraph on 2.12 has no strict)
                optimizer.apply_gradients(pairs)

            strategy.run(step, args=batch)

        for _ in range(4):
            train_step(next(batches))
        saved = distributed.save_on_workers(ckpt, directory, strategy)
        prefix = saved.prefix if saved else None
    else:
        prefix = checkpoint_state.latest_checkpoint(directory)
        restoring.restore_checkpoint(ckpt, prefix)

    values = {v.name: np.asarray(v.numpy()).tolist() for v in model.weights}
    values["iterations"] = int(optimizer.iterations.numpy())
    print(json.dumps({"task": distributed.task(strategy), "prefix": prefix, "values": values}))


if __name__ == "__main__":
    main()

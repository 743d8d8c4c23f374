"""The chapter's tf.keras code, run unchanged after `import numnet as keras`.

This is the textbook notebook's code (classification, regression, Wide & Deep in
the Functional and Subclassing APIs, saving and callbacks), with only the data
made smaller so the test stays fast. `tf.keras` is aliased to numnet.
"""

import contextlib
import io

import numpy as np

import numnet as keras



def test_textbook_chapter_code_runs_unchanged(tmp_path):
    tf = type("tf", (), {"keras": keras})
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        run_chapter(tf, tmp_path)
    text = out.getvalue()
    assert "Epoch=1, val/train=" in text
    assert 'Model: "functional"' in text and "Connected to" in text


def run_chapter(tf, tmp_path):
    (X_train_full, y_train_full), (X_test, y_test) = tf.keras.datasets.fashion_mnist.load_data(sample=True)
    X_train, y_train = X_train_full[:1500], y_train_full[:1500]
    X_valid, y_valid = X_train_full[-500:], y_train_full[-500:]
    X_train, X_valid, X_test = X_train / 255., X_valid / 255., X_test / 255.
    class_names = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    tf.keras.utils.set_random_seed(42)
    model = tf.keras.Sequential()
    model.add(tf.keras.layers.InputLayer(shape=[28, 28]))
    model.add(tf.keras.layers.Flatten())
    model.add(tf.keras.layers.Dense(300, activation="relu"))
    model.add(tf.keras.layers.Dense(100, activation="relu"))
    model.add(tf.keras.layers.Dense(10, activation="softmax"))
    tf.keras.backend.clear_session()
    tf.keras.utils.set_random_seed(42)
    model = tf.keras.Sequential([
        tf.keras.layers.Flatten(input_shape=[28, 28]),
        tf.keras.layers.Dense(300, activation="relu"),
        tf.keras.layers.Dense(100, activation="relu"),
        tf.keras.layers.Dense(10, activation="softmax")
    ])
    model.summary()
    print(model.layers)
    hidden1 = model.layers[1]
    print(hidden1.name, model.get_layer('dense') is hidden1)
    weights, biases = hidden1.get_weights()
    print(weights.shape, biases.shape)
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd", metrics=["accuracy"])
    model.compile(loss=tf.keras.losses.sparse_categorical_crossentropy,
                  optimizer=tf.keras.optimizers.SGD(),
                  metrics=[tf.keras.metrics.sparse_categorical_accuracy])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd", metrics=["accuracy"])
    history = model.fit(X_train, y_train, epochs=2, validation_data=(X_valid, y_valid))
    print(history.params, history.epoch, list(history.history))
    print(model.evaluate(X_test, y_test))
    X_new = X_test[:3]
    y_proba = model.predict(X_new)
    print(y_proba.round(2))
    y_pred = y_proba.argmax(axis=-1)
    print(np.array(class_names)[y_pred])
    # --- regression ---
    housing = keras.datasets.california_housing.fetch()
    from sklearn.model_selection import train_test_split
    X_train_full, X_test, y_train_full, y_test = train_test_split(housing.data[:4000], housing.target[:4000], random_state=42)
    X_train, X_valid, y_train, y_valid = train_test_split(X_train_full, y_train_full, random_state=42)
    tf.keras.utils.set_random_seed(42)
    norm_layer = tf.keras.layers.Normalization(input_shape=X_train.shape[1:])
    model = tf.keras.Sequential([norm_layer, tf.keras.layers.Dense(50, activation="relu"),
        tf.keras.layers.Dense(50, activation="relu"), tf.keras.layers.Dense(50, activation="relu"),
        tf.keras.layers.Dense(1)])
    optimizer = tf.keras.optimizers.Adam(learning_rate=1e-3)
    model.compile(loss="mse", optimizer=optimizer, metrics=["RootMeanSquaredError"])
    norm_layer.adapt(X_train)
    history = model.fit(X_train, y_train, epochs=2, validation_data=(X_valid, y_valid))
    mse_test, rmse_test = model.evaluate(X_test, y_test)
    X_new = X_test[:3]
    y_pred = model.predict(X_new)
    print(rmse_test, y_pred)
    # --- functional wide & deep with aux output ---
    tf.keras.backend.clear_session()
    input_wide = tf.keras.layers.Input(shape=[5])
    input_deep = tf.keras.layers.Input(shape=[6])
    norm_layer_wide = tf.keras.layers.Normalization()
    norm_layer_deep = tf.keras.layers.Normalization()
    norm_wide = norm_layer_wide(input_wide)
    norm_deep = norm_layer_deep(input_deep)
    hidden1 = tf.keras.layers.Dense(30, activation="relu")(norm_deep)
    hidden2 = tf.keras.layers.Dense(30, activation="relu")(hidden1)
    concat = tf.keras.layers.concatenate([norm_wide, hidden2])
    output = tf.keras.layers.Dense(1)(concat)
    aux_output = tf.keras.layers.Dense(1)(hidden2)
    model = tf.keras.Model(inputs=[input_wide, input_deep], outputs=[output, aux_output])
    optimizer = tf.keras.optimizers.Adam(learning_rate=1e-3)
    model.compile(loss=("mse", "mse"), loss_weights=(0.9, 0.1), optimizer=optimizer, metrics=["RootMeanSquaredError", "RootMeanSquaredError"])
    X_train_wide, X_train_deep = X_train[:, :5], X_train[:, 2:]
    X_valid_wide, X_valid_deep = X_valid[:, :5], X_valid[:, 2:]
    X_test_wide, X_test_deep = X_test[:, :5], X_test[:, 2:]
    X_new_wide, X_new_deep = X_test_wide[:3], X_test_deep[:3]
    norm_layer_wide.adapt(X_train_wide)
    norm_layer_deep.adapt(X_train_deep)
    history = model.fit((X_train_wide, X_train_deep), (y_train, y_train), epochs=2,
        validation_data=((X_valid_wide, X_valid_deep), (y_valid, y_valid)))
    eval_results = model.evaluate((X_test_wide, X_test_deep), (y_test, y_test))
    weighted_sum_of_losses, main_loss, aux_loss, main_rmse, aux_rmse = eval_results
    y_pred_main, y_pred_aux = model.predict((X_new_wide, X_new_deep))
    y_pred_tuple = model.predict((X_new_wide, X_new_deep))
    y_pred = dict(zip(model.output_names, y_pred_tuple))
    print(y_pred.keys())
    model.summary()
    # --- subclassing ---
    class WideAndDeepModel(tf.keras.Model):
        def __init__(self, units=30, activation="relu", **kwargs):
            super().__init__(**kwargs)
            self.norm_layer_wide = tf.keras.layers.Normalization()
            self.norm_layer_deep = tf.keras.layers.Normalization()
            self.hidden1 = tf.keras.layers.Dense(units, activation=activation)
            self.hidden2 = tf.keras.layers.Dense(units, activation=activation)
            self.main_output = tf.keras.layers.Dense(1)
            self.aux_output = tf.keras.layers.Dense(1)
        def call(self, inputs):
            input_wide, input_deep = inputs
            norm_wide = self.norm_layer_wide(input_wide)
            norm_deep = self.norm_layer_deep(input_deep)
            hidden1 = self.hidden1(norm_deep)
            hidden2 = self.hidden2(hidden1)
            concat = tf.keras.layers.concatenate([norm_wide, hidden2])
            output = self.main_output(concat)
            aux_output = self.aux_output(hidden2)
            return output, aux_output
    tf.keras.utils.set_random_seed(42)
    model = WideAndDeepModel(30, activation="relu", name="my_cool_model")
    optimizer = tf.keras.optimizers.Adam(learning_rate=1e-3)
    model.compile(loss=("mse", "mse"), loss_weights=[0.9, 0.1], optimizer=optimizer, metrics=["RootMeanSquaredError", "RootMeanSquaredError"])
    model.norm_layer_wide.adapt(X_train_wide)
    model.norm_layer_deep.adapt(X_train_deep)
    history = model.fit((X_train_wide, X_train_deep), (y_train, y_train), epochs=2,
        validation_data=((X_valid_wide, X_valid_deep), (y_valid, y_valid)))
    eval_results = model.evaluate((X_test_wide, X_test_deep), (y_test, y_test))
    weighted_sum_of_losses, main_loss, aux_loss, main_rmse, aux_rmse = eval_results
    y_pred_main, y_pred_aux = model.predict((X_new_wide, X_new_deep))
    # --- saving & callbacks ---
    model.save(tmp_path / "my_keras_model.keras")
    model.save_weights(tmp_path / "my_weights.weights.h5")
    model.load_weights(tmp_path / "my_weights.weights.h5")
    checkpoint_cb = tf.keras.callbacks.ModelCheckpoint(str(tmp_path / "my_checkpoints.weights.h5"), save_weights_only=True)
    early_stopping_cb = tf.keras.callbacks.EarlyStopping(patience=10, restore_best_weights=True)
    class PrintValTrainRatioCallback(tf.keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs):
            ratio = logs["val_loss"] / logs["loss"]
            print(f"Epoch={epoch}, val/train={ratio:.2f}")
    history = model.fit((X_train_wide, X_train_deep), (y_train, y_train), epochs=2,
        validation_data=((X_valid_wide, X_valid_deep), (y_valid, y_valid)),
        callbacks=[checkpoint_cb, early_stopping_cb, PrintValTrainRatioCallback()])
    assert (tmp_path / "my_checkpoints.weights.h5").exists()

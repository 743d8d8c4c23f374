"""Which of Keras' own test files the harness runs, and which tests it leaves out, and why.

`MODULES` maps a module name (what `run.py --modules` takes) to test files, as paths
relative to `keras/src/` in a Keras source tree. The default selection is issue 14's
list: the parts of Keras numnet provides or is adding. `EXTRA_MODULES` are Keras test
files next to those that issue 14 does not ask for; they run only when named.

`EXCLUDED` is the reviewed list of tests that are not counted at all (they are
deselected before running and reported as "excluded", with the reason). Issue 14 leaves
out quantization, LoRA, bfloat16 and backend internals, and asks for what an MLP or a
tabular model uses: tests built on convolution, recurrent or attention layers, pretrained
applications, or the losses and initializers of such models are `OUT_OF_SCOPE_LAYERS`.
Each entry below names one of those reasons. A pattern is a regular expression searched (case-insensitively) in the
test's id, `path/to/file_test.py::Class::test_name`.
"""

NEW_LAYER_FILES = {
    # Activation layers (issue 14: Softmax, ReLU, LeakyReLU, PReLU, ELU).
    "activation_layers": [
        "layers/activations/activation_test.py",
        "layers/activations/softmax_test.py",
        "layers/activations/relu_test.py",
        "layers/activations/leaky_relu_test.py",
        "layers/activations/prelu_test.py",
        "layers/activations/elu_test.py",
    ],
    "core_layers": [
        "layers/core/identity_test.py",
        "layers/core/lambda_layer_test.py",
        "layers/core/embedding_test.py",
        "layers/core/masking_test.py",
    ],
    "normalization_layers": [
        "layers/normalization/batch_normalization_test.py",
        "layers/normalization/layer_normalization_test.py",
        "layers/normalization/unit_normalization_test.py",
    ],
    "regularization_layers": [
        "layers/regularization/dropout_test.py",
        "layers/regularization/gaussian_noise_test.py",
        "layers/regularization/gaussian_dropout_test.py",
        "layers/regularization/alpha_dropout_test.py",
        "layers/regularization/activity_regularization_test.py",
    ],
    "reshaping_layers": [
        "layers/reshaping/flatten_test.py",
        "layers/reshaping/reshape_test.py",
        "layers/reshaping/repeat_vector_test.py",
        "layers/reshaping/permute_test.py",
    ],
    "preprocessing_layers": [
        "layers/preprocessing/rescaling_test.py",
        "layers/preprocessing/category_encoding_test.py",
        "layers/preprocessing/discretization_test.py",
        "layers/preprocessing/hashing_test.py",
        "layers/preprocessing/string_lookup_test.py",
        "layers/preprocessing/integer_lookup_test.py",
    ],
}

MODULES = {
    "activations": ["activations/activations_test.py"],
    "losses": ["losses/loss_test.py", "losses/losses_test.py"],
    "metrics": [
        "metrics/metric_test.py",
        "metrics/accuracy_metrics_test.py",
        "metrics/confusion_metrics_test.py",
        "metrics/f_score_metrics_test.py",
        "metrics/hinge_metrics_test.py",
        "metrics/iou_metrics_test.py",
        "metrics/probabilistic_metrics_test.py",
        "metrics/reduction_metrics_test.py",
        "metrics/regression_metrics_test.py",
    ],
    "optimizers": [
        "optimizers/optimizer_test.py",
        "optimizers/sgd_test.py",
        "optimizers/adam_test.py",
        "optimizers/adamw_test.py",
        "optimizers/rmsprop_test.py",
        "optimizers/adagrad_test.py",
        "optimizers/nadam_test.py",
        "optimizers/adamax_test.py",
        "optimizers/adadelta_test.py",
        "optimizers/ftrl_test.py",
        "optimizers/lion_test.py",
        "optimizers/lamb_test.py",
    ],
    "schedules": ["optimizers/schedules/learning_rate_schedule_test.py"],
    "dense": ["layers/core/dense_test.py"],
    "input_layer": ["layers/core/input_layer_test.py"],
    "merging": ["layers/merging/merging_test.py"],
    "normalization": ["layers/preprocessing/normalization_test.py"],
    "sequential": ["models/sequential_test.py"],
    "functional": ["models/functional_test.py"],
    "model": ["models/model_test.py"],
    "cloning": ["models/cloning_test.py"],
    "callbacks": [
        "callbacks/callback_test.py",
        "callbacks/monitor_callback_test.py",
        "callbacks/early_stopping_test.py",
        "callbacks/model_checkpoint_test.py",
        "callbacks/backup_and_restore_test.py",
        "callbacks/csv_logger_test.py",
        "callbacks/lambda_callback_test.py",
        "callbacks/learning_rate_scheduler_test.py",
        "callbacks/reduce_lr_on_plateau_test.py",
        "callbacks/terminate_on_nan_test.py",
        "callbacks/tensorboard_test.py",
        "callbacks/remote_monitor_test.py",
        "callbacks/swap_ema_weights_test.py",
    ],
    # initializers/initializer_test.py is left out: its only tests are JAX sharding
    # layouts (distribution, a backend internal), and it imports jax at the top.
    "initializers": [
        "initializers/constant_initializers_test.py",
        "initializers/random_initializers_test.py",
    ],
    "regularizers": ["regularizers/regularizers_test.py"],
    "constraints": ["constraints/constraints_test.py"],
    "saving": [
        "saving/saving_api_test.py",
        "saving/saving_lib_test.py",
        "saving/serialization_lib_test.py",
        "saving/object_registration_test.py",
    ],
    "legacy_h5": ["legacy/saving/legacy_h5_format_test.py"],
    **NEW_LAYER_FILES,
}

# Next to issue 14's modules, but not asked for by it: run only when named.
EXTRA_MODULES = {
    "layer": ["layers/layer_test.py"],
    "correlation_metrics": ["metrics/correlation_metrics_test.py"],
    "other_optimizers": [
        "optimizers/adafactor_test.py",
        "optimizers/muon_test.py",
        "optimizers/schedule_free_adamw_test.py",
        "optimizers/multi_optimizer_test.py",
        "optimizers/loss_scale_optimizer_test.py",
    ],
    "file_editor": ["saving/file_editor_test.py"],
    "json_utils": ["legacy/saving/json_utils_test.py"],
    # (Keras' ops/math_test.py imports JAX at the top.) ops/numpy_test.py's thousands of
    # tests take more than 20 minutes here: name classes with -k (see the README).
    "ops_numpy": ["ops/numpy_test.py"],
    "ops_linalg": ["ops/linalg_test.py"],
    "ops_nn": ["ops/nn_test.py"],
    "ops_core": ["ops/core_test.py"],
    "image_layers": ["layers/preprocessing/image_preprocessing/resizing_test.py",
                     "layers/preprocessing/image_preprocessing/center_crop_test.py"],
}

# Frameworks some test files import at the top although only a few of their tests use
# them. When one is not installed, the plugin puts a stand-in in its place so that the
# file still loads; the tests that use it are excluded below or fail, saying so.
ABSENT_FRAMEWORKS = ["tensorflow", "grain"]

# Data files some test files read next to themselves (copied with them).
DATA_DIRS = ["saving/test_data"]

QUANTIZATION = "quantization (issue 14 excludes it)"
LORA = "LoRA (issue 14 excludes it)"
BFLOAT16 = "bfloat16 (issue 14 excludes it)"
BACKEND = "backend internals (issue 14 excludes them)"
OUT_OF_SCOPE_LAYERS = ("layers numnet does not provide: convolution, recurrent, attention, "
                       "pretrained applications — not part of an MLP or tabular model")

EXCLUDED = [
    (r"quantiz", QUANTIZATION),
    (r"::test_\w*(int4|int8|float8|gptq|awq)", QUANTIZATION),
    (r"::test_\w*lora", LORA),
    (r"bfloat16", BFLOAT16),
    # Tests whose names do not say it, found by reading them:
    (r"losses/losses_test\.py::\w+::test_dtype_arg$", BFLOAT16 + ": computes the loss in bfloat16"),
    (r"(losses/loss|metrics/metric)_test\.py::\w+::test_(dtype_arg|default_dtype)$",
     BACKEND + ": sets a mixed_float16 global dtype policy"),
    (r"::test_legacy_load_own_variables$", QUANTIZATION + ": loads int8/int4/float8 stores"),
    # Dtype policies are the mixed-precision / quantization machinery of a backend.
    (r"::test_\w*dtype_polic", BACKEND + ": dtype policies (mixed precision, quantized dtypes)"),
    (r"::test_\w*mixed_precision", BACKEND + ": mixed precision (float16 compute dtypes)"),
    (r"::test_\w*jit_compile", BACKEND + ": XLA / torch.compile compilation"),
    (r"::test_\w*(_tf_|tensorflow|_jax_|torch)", BACKEND + ": a test of one backend's tensors"),
    # (`sparse_plus`, `sparse_sigmoid` and `sparsemax` are activations, not sparse tensors.)
    (r"::test_\w*(sparse(?!_plus|_sigmoid|max)|ragged)", BACKEND + ": sparse or ragged backend tensors"),
    # (VarianceScaling's `distribution` argument is not about devices.)
    (r"::test_\w*(tf_distribute|multi_device|layout_map|device_mesh|data_parallel|model_parallel)",
     BACKEND + ": distribution over devices"),
    (r"::test_\w*remat", BACKEND + ": rematerialization scopes"),
    (r"::test_\w*stateless", BACKEND + ": stateless_call / stateless_apply (JAX-style)"),
    (r"::test_\w*symbolic_scope", BACKEND + ": the backend's symbolic scope"),
    (r"::test_\w*(export|orbax|litert|onnx|tflite)", BACKEND + ": model export formats"),
    (r"::test_\w*(tf_data|grain|torch_data|dataset_adapter)",
     BACKEND + ": a framework's own input pipeline (tf.data, grain, torch DataLoader)"),
    (r"normalization_test\.py::NormalizationTest::test_normalization_adapt2$",
     BACKEND + ": adapts on a tf.data.Dataset (parameter 'tf.data')"),
    (r"integer_lookup_test\.py::IntegerLookupTest::test_adapt_with_steps$",
     BACKEND + ": adapts on a tf.data.Dataset"),
    (r"(batch|layer)_normalization_test\.py::\w+::test_large_value_within_autocast_scope$",
     BACKEND + ": mixed precision (a float16 AutocastScope)"),
    # Tests built on layers, losses or initializers of other kinds of models.
    (r"losses/losses_test\.py::CTCTest::", OUT_OF_SCOPE_LAYERS + ": the CTC sequence loss"),
    (r"constant_initializers_test\.py::\w+::test_stft_initializer$",
     OUT_OF_SCOPE_LAYERS + ": the STFT initializer of audio convolutions"),
    (r"random_initializers_test\.py::\w+::test_mha_query_projection_variance$",
     OUT_OF_SCOPE_LAYERS + ": MultiHeadAttention"),
    (r"masking_test\.py::MaskingTest::test_masking_with_tensor$", OUT_OF_SCOPE_LAYERS + ": LSTM"),
    (r"(functional|sequential)_test\.py::\w+::test_basic_flow_as_a_submodel$",
     OUT_OF_SCOPE_LAYERS + ": TimeDistributed"),
    (r"functional_test\.py::FunctionalTest::test_for_functional_in_sequential$",
     OUT_OF_SCOPE_LAYERS + ": the MobileNet application"),
    (r"functional_test\.py::FunctionalTest::test_functional_input_shape_and_type$",
     OUT_OF_SCOPE_LAYERS + ": Conv1D"),
    (r"sequential_test\.py::SequentialTest::test_basic_flow_with_"
     r"(functional|sequential)_model_as_first_layer$", OUT_OF_SCOPE_LAYERS + ": Conv2D"),
    # saving, legacy_h5, cloning, callbacks: tests built on layers outside numnet's scope.
    (r"saving_lib_test\.py::SavingBattleTest::test_bidirectional_lstm_saving$",
     OUT_OF_SCOPE_LAYERS + " (Bidirectional LSTM)"),
    (r"saving_lib_test\.py::SavingBattleTest::"
     r"test_fresh_save_load_emits_no_container_skip_warning$",
     OUT_OF_SCOPE_LAYERS + " (EinsumDense)"),
    (r"saving_lib_test\.py::SavingTest::test_weights_sharding_efficientnet_b0_\w+$",
     OUT_OF_SCOPE_LAYERS + " (EfficientNetB0; sharding itself is tested in tests/saving)"),
    (r"serialization_lib_test\.py::SerializationLibTest::"
     r"test_layer_instance_with_config_as_activation$",
     OUT_OF_SCOPE_LAYERS + " (Conv1D)"),
    (r"legacy_h5_format_test\.py::\w+::test_compiled_model_with_various_layers$",
     OUT_OF_SCOPE_LAYERS + " (TimeDistributed)"),
    (r"cloning_test\.py::CloneModelTest::test_\w+_cnn_(functional|sequential)\w*$",
     OUT_OF_SCOPE_LAYERS + " (Conv1D)"),
    (r"tensorboard_test\.py::TestTensorBoardV2::test_TensorBoard_weight_images$",
     OUT_OF_SCOPE_LAYERS + " (Conv2D)"),
    # keras.ops.nn (`--modules ops_nn`): Keras skips flash attention on its NumPy and
    # TensorFlow backends; its dtype tests compute the expected dtypes with JAX or torch.
    (r"ops/nn_test\.py::NNOpsCorrectnessTest::test_dot_product_attention_.*_true$",
     BACKEND + ": flash attention (a fused GPU kernel; Keras skips it on NumPy and "
     "TensorFlow)"),
    (r"ops/nn_test\.py::NNOpsDtypeTest::", BACKEND + ": dtype promotion rules, computed "
     "with JAX or torch (numnet computes in NumPy's types: README)"),
    (r"tensorboard_test\.py::TestTensorBoardV2::test_custom_summary$",
     BACKEND + ": TensorFlow summary ops written from inside a layer's call"),
]


def default_modules():
    """The module names run when `--modules` is not given (issue 14's list)."""
    return list(MODULES)


def files_for(modules):
    """`{module: [files]}` for the given module names; raises on an unknown name."""
    table = {**MODULES, **EXTRA_MODULES}
    unknown = [m for m in modules if m not in table]
    if unknown:
        raise SystemExit(f"Unknown module(s) {unknown}; choose from {sorted(table)}")
    return {m: table[m] for m in modules}

#!/usr/bin/env python3
"""Golden ONNX fixtures for Tests/NIONNXTests (issue 4: the general graph executor).

Writes into Tests/NIONNXTests/Fixtures:

* PyTorch models exported by `torch.onnx.export`, with both exporters:
  - torch_cnn_ts.onnx / torch_cnn_dynamo.onnx: a CNN (grouped + dilated conv, LeakyReLU, ceil-mode average
    pooling, `x.view(x.size(0), -1)` flatten), TorchScript exporter (opset 13) and dynamo exporter;
  - torch_resnet.onnx: a ResNet-style net (residual Add of two branches, a strided 1x1 projection shortcut,
    BatchNormalization after the Add, global average pooling), dynamo exporter;
  - torch_deepid_softmax.onnx: the DeepID two-branch layout (two Dense heads added) ending in a Softmax,
    TorchScript exporter at opset 11 (pre-13 Softmax semantics);
  - torch_ops.onnx: normalisation (Sub/Div by constants), ReLU6 (Clip), depthwise conv, x*sigmoid(x) (Mul of
    two runtime values), Tanh, Concat, reflect Pad, padded ceil-mode MaxPool, count_include_pad AveragePool,
    ReduceMean, Transpose, Slice, Reshape, LogSoftmax head; TorchScript exporter, opset 17;
  - torch_cnn_fp16w.onnx / torch_cnn_fp64w.onnx: torch_cnn_ts with float16 / float64 initializers feeding Cast
    nodes (weights converted on load);
  - external/torch_cnn_ext.onnx + external/torch_cnn_ext.weights: torch_cnn_ts with its weights in an
    external-data file;
  - ort_resnet_extended.onnx: torch_resnet after onnxruntime's extended graph optimisations (FusedConv).
* Keras models converted by tf2onnx (NHWC input, Transpose into NCHW as tf2onnx emits):
  - keras_cnn.onnx: Conv2D/MaxPool/BatchNorm/Flatten/Dense with a softmax activation;
  - keras_gap.onnx: Conv2D, DepthwiseConv2D, Add of two branches, GlobalAveragePooling2D, Dense logits.
* node/<test>/: a selection of the onnx package's backend node tests (model.onnx, input_*.pb, output_*.pb),
  op-level forward goldens computed by the ONNX reference implementation.

For each model, <name>.json holds a fixed input (NCHW), onnxruntime's output of the file, the framework's
logits (before any softmax), a gradient seed on the logits, the framework's input gradient of
sum(seed * logits) (autograd / GradientTape, NCHW), and for the PyTorch models the rectified gradient
(guided-backprop rule at every ReLU, LeakyReLU and ReLU6: negative gradients clipped, only where the input was
positive). VERSIONS.json records the exporter versions.

Usage (from the package root):  python3 scripts/make_onnx_fixtures.py
Needs: torch, onnx, onnxruntime, onnxscript (dynamo exporter), tensorflow + tf2onnx (Keras fixtures).
"""
import json, os, shutil, sys, warnings, platform, glob
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore")
import numpy as np
import onnx
from onnx import numpy_helper, helper, TensorProto
import onnxruntime as ort
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "Tests", "NIONNXTests", "Fixtures")
SCRIPT = "scripts/make_onnx_fixtures.py"
versions = {"python": platform.python_version(), "numpy": np.__version__, "torch": torch.__version__,
            "onnx": onnx.__version__, "onnxruntime": ort.__version__}


def r9(a):
    return [float("%.9g" % v) for v in np.asarray(a, dtype=np.float64).ravel()]


def ort_run(path, x):
    s = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    return s.run(None, {s.get_inputs()[0].name: x})[0]


def write_json(name, **kv):
    kv["script"] = SCRIPT
    with open(os.path.join(FIX, name + ".json"), "w") as f:
        json.dump(kv, f, separators=(",", ":"))


# ---------------------------------------------------------------- rectified (guided) backward for PyTorch
RECT = {"on": False}


class _GuidedReLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, lo, hi, slope):
        ctx.save_for_backward(x); ctx.lo, ctx.hi, ctx.slope = lo, hi, slope
        y = torch.where(x > 0, x, x * slope) if slope else x.clamp(min=lo)
        return y.clamp(max=hi) if hi is not None else y

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        g = g.clamp(min=0)
        if ctx.slope:
            return g * torch.where(x > 0, torch.ones_like(x), torch.full_like(x, ctx.slope)), None, None, None
        gate = (x > 0) if ctx.hi is None else ((x > 0) & (x <= ctx.hi))
        return g * gate.to(g.dtype), None, None, None


def relu(x):
    return _GuidedReLU.apply(x, 0.0, None, 0.0) if RECT["on"] else F.relu(x)


def relu6(x):
    return _GuidedReLU.apply(x, 0.0, 6.0, 0.0) if RECT["on"] else F.relu6(x)


def leaky(x, a):
    return _GuidedReLU.apply(x, 0.0, None, a) if RECT["on"] else F.leaky_relu(x, a)


# ---------------------------------------------------------------- PyTorch models
class CNN(nn.Module):
    def __init__(s):
        super().__init__()
        s.c1 = nn.Conv2d(3, 8, 3, padding=1)
        s.c2 = nn.Conv2d(8, 8, 3, padding=2, dilation=2, groups=2)
        s.fc = nn.Linear(8 * 3 * 3, 10)

    def forward(s, x):
        h = F.max_pool2d(relu(s.c1(x)), 2)                       # 8x5x5
        h = leaky(s.c2(h), 0.1)
        h = F.avg_pool2d(h, 2, stride=2, ceil_mode=True)          # 8x3x3
        return s.fc(h.view(h.size(0), -1))


class ResNet(nn.Module):
    def __init__(s):
        super().__init__()
        s.stem = nn.Conv2d(3, 8, 3, padding=1)
        s.a1 = nn.Conv2d(8, 8, 3, padding=1); s.a2 = nn.Conv2d(8, 8, 3, padding=1); s.bn1 = nn.BatchNorm2d(8)
        s.b1 = nn.Conv2d(8, 16, 3, stride=2, padding=1); s.b2 = nn.Conv2d(16, 16, 3, padding=1)
        s.proj = nn.Conv2d(8, 16, 1, stride=2); s.bn2 = nn.BatchNorm2d(16)
        s.fc = nn.Linear(16, 10)

    def forward(s, x):
        h = relu(s.stem(x))
        h = relu(s.bn1(h + s.a2(relu(s.a1(h)))))
        h = relu(s.bn2(s.proj(h) + s.b2(relu(s.b1(h)))))
        h = F.adaptive_avg_pool2d(h, 1)
        return s.fc(torch.flatten(h, 1))


class DeepID(nn.Module):
    """DeepID layout: the last two feature maps each feed a Dense head; the heads are added, then Softmax."""
    def __init__(s):
        super().__init__()
        s.c1 = nn.Conv2d(3, 6, 3); s.c2 = nn.Conv2d(6, 8, 3, padding=1); s.c3 = nn.Conv2d(8, 8, 3, padding=1)
        s.fa = nn.Linear(8 * 4 * 4, 10); s.fb = nn.Linear(8 * 2 * 2, 10)

    def logits(s, x):
        h = F.max_pool2d(relu(s.c1(x)), 2)                       # 6x4x4
        a = relu(s.c2(h))                                        # 8x4x4
        b = F.max_pool2d(relu(s.c3(a)), 2)                       # 8x2x2
        return s.fa(torch.flatten(a, 1)) + s.fb(b.reshape(b.shape[0], -1))

    def forward(s, x):
        return torch.softmax(s.logits(x), dim=1)


class Ops(nn.Module):
    def __init__(s):
        super().__init__()
        s.register_buffer("mean", torch.tensor([0.4, 0.5, 0.6]).view(1, 3, 1, 1))
        s.register_buffer("std", torch.tensor([0.2, 0.25, 0.3]).view(1, 3, 1, 1))
        s.ca = nn.Conv2d(3, 4, 3, padding=1); s.dw = nn.Conv2d(3, 3, 3, padding=1, groups=3); s.cc = nn.Conv2d(3, 2, 1)
        s.fc = nn.Linear(40, 10); s.fg = nn.Linear(9, 10)

    def logits(s, x):
        x = (x - s.mean) / s.std
        a = relu6(s.ca(x))
        b = s.dw(x); b = b * torch.sigmoid(b)
        c = torch.tanh(s.cc(x))
        h = torch.cat([a, b, c], dim=1)                          # 9x10x10
        h = F.pad(h, (1, 0, 1, 0), mode="reflect")               # 9x11x11
        h = F.max_pool2d(h, 3, stride=2, padding=1, ceil_mode=True)  # 9x6x6
        g = h.mean(dim=(2, 3))                                   # 9
        h = F.avg_pool2d(h, 2, stride=2, padding=1, count_include_pad=True)  # 9x4x4
        h = h.permute(0, 2, 3, 1).reshape(h.shape[0], -1)        # 144
        h = h[:, 8:48]                                           # 40
        return s.fc(h) + s.fg(g)

    def forward(s, x):
        return torch.log_softmax(s.logits(x), dim=1)


def randomise(m, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, nn.BatchNorm2d):
                mod.weight.copy_(0.5 + torch.rand(mod.weight.shape, generator=g))
                mod.bias.copy_(torch.rand(mod.bias.shape, generator=g) - 0.5)
                mod.running_mean.copy_(torch.rand(mod.running_mean.shape, generator=g) - 0.5)
                mod.running_var.copy_(0.5 + torch.rand(mod.running_var.shape, generator=g))
    return m.eval()


def torch_golden(name, m, x, seed, out_path, logits_fn=None, ends=None):
    xt = torch.tensor(x, requires_grad=True)
    logits_fn = logits_fn or m
    grads = []
    for rect in (False, True):
        RECT["on"] = rect
        xt.grad = None
        y = logits_fn(xt)
        (y * torch.tensor(seed)).sum().backward()
        grads.append(xt.grad.detach().numpy().copy())
    RECT["on"] = False
    with torch.no_grad():
        logits = logits_fn(torch.tensor(x)).numpy()
        full = m(torch.tensor(x)).numpy()
    out = ort_run(out_path, x)
    assert np.allclose(out, full, rtol=1e-4, atol=1e-5), (name, np.abs(out - full).max())
    write_json(name, model=os.path.relpath(out_path, FIX), exporter=EXPORTER[name], layout="NCHW", endsWith=ends,
               inputShape=list(x.shape), input=r9(x), outputShape=list(out.shape), output=r9(out),
               logits=r9(logits), seed=r9(seed), gradient=r9(grads[0]), rectifiedGradient=r9(grads[1]),
               gradientBy="torch.autograd", outputBy="onnxruntime " + ort.__version__)


EXPORTER = {}


def export(m, x, path, dynamo, opset=None):
    kw = dict(input_names=["input"], output_names=["output"])
    if dynamo:
        kw["dynamic_shapes"] = ({0: torch.export.Dim("batch")},)
        kw["dynamo"] = True
        if opset: kw["opset_version"] = opset
        prog = torch.onnx.export(m, (torch.tensor(x),), None, **kw)
        prog.save(path)
    else:
        kw["dynamic_axes"] = {"input": {0: "batch"}, "output": {0: "batch"}}
        torch.onnx.export(m, (torch.tensor(x),), path, dynamo=False, opset_version=opset or 13, **kw)
    onnx.checker.check_model(onnx.load(path))


def retype_initializers(src, dst, np_type, onnx_type):
    """Initializers stored as np_type, each read through a Cast to float (weights converted on load)."""
    p = onnx.load(src)
    g = p.graph
    casts = []
    for t in g.initializer:
        if t.data_type != TensorProto.FLOAT:
            continue
        a = numpy_helper.to_array(t).astype(np_type)
        new = numpy_helper.from_array(a, t.name + "_stored")
        t.CopyFrom(new)
        casts.append(helper.make_node("Cast", [t.name], [t.name[:-len("_stored")]], to=TensorProto.FLOAT,
                                      name="cast_" + t.name))
    nodes = casts + list(g.node)
    del g.node[:]
    g.node.extend(nodes)
    onnx.checker.check_model(p)
    onnx.save(p, dst)


def make_torch():
    rng = np.random.default_rng(1)
    x = rng.random((2, 3, 10, 10), dtype=np.float32)
    torch.manual_seed(0)
    models = [("torch_cnn_ts", CNN(), False, 13, None, None), ("torch_cnn_dynamo", None, True, None, None, None),
              ("torch_resnet", ResNet(), True, None, None, None),
              ("torch_deepid_softmax", DeepID(), False, 11, "logits", "Softmax"),
              ("torch_ops", Ops(), False, 17, "logits", "LogSoftmax")]
    cnn = None
    for i, (name, m, dynamo, opset, logits, ends) in enumerate(models):
        if m is None:
            m = cnn
        m = randomise(m, 10 + i)
        if name == "torch_cnn_ts":
            cnn = m
        path = os.path.join(FIX, name + ".onnx")
        export(m, x, path, dynamo, opset)
        p = onnx.load(path)
        EXPORTER[name] = "torch.onnx.export(%s) torch %s, opset %d" % (
            "dynamo=True" if dynamo else "dynamo=False", torch.__version__,
            [o.version for o in p.opset_import if o.domain in ("", "ai.onnx")][0])
        seed = rng.standard_normal((2, 10)).astype(np.float32)
        torch_golden(name, m, x, seed, path, getattr(m, logits) if logits else None, ends)
    # float16 / float64 weights and external data, from the TorchScript CNN
    seed = rng.standard_normal((2, 10)).astype(np.float32)
    for suffix, npt, ot in (("fp16w", np.float16, TensorProto.FLOAT16), ("fp64w", np.float64, TensorProto.DOUBLE)):
        name = "torch_cnn_" + suffix
        path = os.path.join(FIX, name + ".onnx")
        retype_initializers(os.path.join(FIX, "torch_cnn_ts.onnx"), path, npt, ot)
        out = ort_run(path, x)
        EXPORTER[name] = EXPORTER["torch_cnn_ts"] + ", initializers rewritten as %s + Cast by the script" % np.dtype(npt).name
        write_json(name, model=name + ".onnx", exporter=EXPORTER[name], layout="NCHW", endsWith=None,
                   inputShape=list(x.shape), input=r9(x), outputShape=list(out.shape), output=r9(out), logits=r9(out),
                   outputBy="onnxruntime " + ort.__version__)
    ext = os.path.join(FIX, "external")
    shutil.rmtree(ext, ignore_errors=True); os.makedirs(ext)
    p = onnx.load(os.path.join(FIX, "torch_cnn_ts.onnx"))
    onnx.save_model(p, os.path.join(ext, "torch_cnn_ext.onnx"), save_as_external_data=True, all_tensors_to_one_file=True,
                    location="torch_cnn_ext.weights", size_threshold=0)
    out = ort_run(os.path.join(ext, "torch_cnn_ext.onnx"), x)
    EXPORTER["torch_cnn_ext"] = EXPORTER["torch_cnn_ts"] + ", saved with external data by onnx.save_model"
    write_json("torch_cnn_ext", model="external/torch_cnn_ext.onnx", exporter=EXPORTER["torch_cnn_ext"], layout="NCHW",
               endsWith=None, inputShape=list(x.shape), input=r9(x), outputShape=list(out.shape), output=r9(out),
               logits=r9(out), outputBy="onnxruntime " + ort.__version__)
    # onnxruntime's optimised form of the ResNet
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    opt = os.path.join(FIX, "ort_resnet_extended.onnx")
    so.optimized_model_filepath = opt
    ort.InferenceSession(os.path.join(FIX, "torch_resnet.onnx"), so, providers=["CPUExecutionProvider"])
    out = ort_run(opt, x)
    ops = sorted({(n.domain + "." if n.domain else "") + n.op_type for n in onnx.load(opt).graph.node})
    EXPORTER["ort_resnet_extended"] = "onnxruntime %s ORT_ENABLE_EXTENDED of torch_resnet.onnx; ops %s" % (ort.__version__, ", ".join(ops))
    src = json.load(open(os.path.join(FIX, "torch_resnet.json")))
    write_json("ort_resnet_extended", model="ort_resnet_extended.onnx", exporter=EXPORTER["ort_resnet_extended"],
               layout="NCHW", endsWith=None, inputShape=list(x.shape), input=r9(x), outputShape=list(out.shape),
               output=r9(out), logits=r9(out), seed=src["seed"], gradient=src["gradient"],
               rectifiedGradient=src["rectifiedGradient"], gradientBy="torch.autograd (torch_resnet)",
               outputBy="onnxruntime " + ort.__version__)


# ---------------------------------------------------------------- Keras via tf2onnx
def make_keras():
    try:
        import tensorflow as tf
        import tf2onnx
    except ImportError as e:
        print("Keras fixtures skipped:", e)
        return
    versions.update({"tensorflow": tf.__version__, "keras": tf.keras.__version__, "tf2onnx": tf2onnx.__version__})
    tf.keras.utils.set_random_seed(3)
    L = tf.keras.layers
    rng = np.random.default_rng(2)
    x_nhwc = rng.random((2, 10, 10, 3), dtype=np.float32)

    def cnn():
        i = tf.keras.Input((10, 10, 3), name="image")
        h = L.Conv2D(6, 3, padding="same", activation="relu")(i)
        h = L.MaxPooling2D(2)(h)
        h = L.Conv2D(8, 3, padding="valid")(h)
        h = L.BatchNormalization()(h)
        h = L.ReLU()(h)
        h = L.Flatten()(h)
        return tf.keras.Model(i, L.Dense(10, activation="softmax")(h)), "Softmax"

    def gap():
        i = tf.keras.Input((10, 10, 3), name="image")
        h = L.Conv2D(8, 3, strides=2, padding="same", activation="relu")(i)
        a = L.DepthwiseConv2D(3, padding="same", activation="relu")(h)
        b = L.Conv2D(8, 1)(h)
        h = L.Add()([a, b])
        h = L.GlobalAveragePooling2D()(h)
        return tf.keras.Model(i, L.Dense(10)(h)), None

    for name, make in (("keras_cnn", cnn), ("keras_gap", gap)):
        m, ends = make()
        # Non-trivial biases and BatchNorm statistics.
        for layer in m.layers:
            w = layer.get_weights()
            if not w:
                continue
            if isinstance(layer, L.BatchNormalization):
                g, b, mu, var = w
                layer.set_weights([0.5 + rng.random(g.shape), rng.random(b.shape) - 0.5, rng.random(mu.shape) - 0.5,
                                   0.5 + rng.random(var.shape)])
            else:
                layer.set_weights([w[0]] + [rng.random(v.shape).astype(np.float32) - 0.5 for v in w[1:]])
        spec = [tf.TensorSpec([None, 10, 10, 3], tf.float32, name="image")]
        path = os.path.join(FIX, name + ".onnx")
        mp, _ = tf2onnx.convert.from_keras(m, input_signature=spec, opset=13, output_path=path)
        onnx.checker.check_model(onnx.load(path))
        # logits: the model up to the last Dense's pre-activation
        last = m.layers[-1]
        act = last.activation
        last.activation = tf.keras.activations.linear
        seed = rng.standard_normal((2, 10)).astype(np.float32)
        xt = tf.constant(x_nhwc)
        with tf.GradientTape() as tape:
            tape.watch(xt)
            logits = m(xt, training=False)
            loss = tf.reduce_sum(logits * seed)
        grad = tape.gradient(loss, xt).numpy()
        last.activation = act
        full = m(xt, training=False).numpy()
        out = ort_run(path, x_nhwc)
        assert np.allclose(out, full, rtol=1e-4, atol=1e-5), (name, np.abs(out - full).max())
        EXPORTER[name] = "tf2onnx %s from_keras (TensorFlow %s, Keras %s), opset 13" % (tf2onnx.__version__, tf.__version__, tf.keras.__version__)
        nchw = lambda a: np.transpose(a, (0, 3, 1, 2))
        write_json(name, model=name + ".onnx", exporter=EXPORTER[name], layout="NHWC", endsWith=ends,
                   inputShape=list(nchw(x_nhwc).shape), input=r9(nchw(x_nhwc)), outputShape=list(out.shape), output=r9(out),
                   logits=r9(logits.numpy()), seed=r9(seed), gradient=r9(nchw(grad)), rectifiedGradient=None,
                   gradientBy="tf.GradientTape", outputBy="onnxruntime " + ort.__version__)


# ---------------------------------------------------------------- onnx backend node tests
NODE_TESTS = [
    "test_basic_conv_with_padding", "test_conv_with_strides_and_asymmetric_padding", "test_conv_with_autopad_same",
    "test_conv_with_strides_padding", "test_conv_with_strides_no_padding",
    "test_maxpool_2d_pads", "test_maxpool_2d_ceil", "test_maxpool_2d_dilations", "test_maxpool_2d_same_upper",
    "test_maxpool_2d_same_lower", "test_maxpool_2d_strides", "test_maxpool_2d_precomputed_pads",
    "test_averagepool_2d_pads", "test_averagepool_2d_pads_count_include_pad", "test_averagepool_2d_ceil",
    "test_averagepool_2d_same_upper", "test_averagepool_2d_strides", "test_averagepool_2d_precomputed_same_upper",
    "test_globalaveragepool", "test_globalmaxpool", "test_batchnorm_example", "test_batchnorm_epsilon",
    "test_gemm_all_attributes", "test_gemm_transposeA", "test_gemm_transposeB", "test_gemm_default_single_elem_vector_bias",
    "test_gemm_beta", "test_gemm_alpha", "test_matmul_2d", "test_matmul_3d", "test_matmul_4d",
    "test_add", "test_add_bcast", "test_sub_bcast", "test_mul_bcast", "test_div_bcast", "test_sub", "test_mul", "test_div",
    "test_relu", "test_leakyrelu", "test_leakyrelu_default", "test_sigmoid", "test_tanh", "test_neg",
    "test_clip", "test_clip_default_min", "test_clip_default_max", "test_clip_splitbounds",
    "test_flatten_axis0", "test_flatten_axis2", "test_flatten_negative_axis1", "test_flatten_default_axis",
    "test_reshape_reordered_all_dims", "test_reshape_negative_dim", "test_reshape_zero_dim", "test_reshape_one_dim",
    "test_transpose_default", "test_transpose_all_permutations_3", "test_concat_3d_axis_1", "test_concat_2d_axis_negative_1",
    "test_squeeze", "test_squeeze_negative_axes", "test_unsqueeze_axis_1", "test_unsqueeze_two_axes", "test_unsqueeze_negative_axes",
    "test_identity", "test_dropout_default", "test_constant_pad", "test_edge_pad", "test_reflect_pad",
    "test_softmax_axis_0", "test_softmax_axis_1", "test_softmax_axis_2", "test_softmax_negative_axis", "test_softmax_default_axis",
    "test_logsoftmax_axis_1", "test_logsoftmax_large_number", "test_slice", "test_slice_neg_steps", "test_slice_negative_axes",
    "test_slice_start_out_of_bounds", "test_slice_default_axes", "test_reduce_mean_keepdims_example",
    "test_reduce_mean_do_not_keepdims_example", "test_reduce_sum_keepdims_example", "test_shape", "test_size",
]


def make_node_tests():
    """The selected cases of onnx.backend.test.case.node (the onnx package's node tests: models with inputs
    and expected outputs from the ONNX reference implementation), written as the backend test data layout."""
    from onnx.backend.test.case import node as nodecases
    cases = {c.name: c for c in nodecases.collect_testcases(None)}
    out = os.path.join(FIX, "node")
    shutil.rmtree(out, ignore_errors=True); os.makedirs(out)
    taken = []
    for t in NODE_TESTS:
        c = cases.get(t)
        if c is None:
            print("node test missing:", t); continue
        m = onnx.ModelProto(); m.CopyFrom(c.model)
        ver = [o.version for o in m.opset_import if o.domain in ("", "ai.onnx")][0]
        if ver > 21:
            # Re-label the model opset 21 only when each operator's definition in force at the model's opset has
            # the same attributes (names, types, defaults) and inputs/outputs as at opset 21 (later opsets mostly
            # widened type constraints); otherwise skip the test.
            if not all(_same_signature(n.op_type, ver) for n in m.graph.node):
                print("node test skipped (definition changed after opset 21):", t); continue
            for o in m.opset_import:
                if o.domain in ("", "ai.onnx"): o.version = 21
            m.ir_version = min(m.ir_version, 10)
        dst = os.path.join(out, t)
        os.makedirs(dst)
        onnx.save(m, os.path.join(dst, "model.onnx"))
        inputs, outputs = c.data_sets[0]
        for j, a in enumerate(inputs):
            with open(os.path.join(dst, "input_%d.pb" % j), "wb") as f:
                f.write((a if isinstance(a, TensorProto) else numpy_helper.from_array(np.asarray(a), m.graph.input[j].name)).SerializeToString())
        for j, a in enumerate(outputs):
            with open(os.path.join(dst, "output_%d.pb" % j), "wb") as f:
                f.write((a if isinstance(a, TensorProto) else numpy_helper.from_array(np.asarray(a), m.graph.output[j].name)).SerializeToString())
        taken.append(t)
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write("Node tests of the onnx %s package (onnx.backend.test.case.node: expected outputs from the ONNX\n"
                "reference implementation), written by %s. Models above opset 21 were re-labelled 21 where the\n"
                "operator's attributes and inputs are unchanged since 21.\n" % (onnx.__version__, SCRIPT))
    return taken


def _same_signature(op, ver):
    new, old = onnx.defs.get_schema(op, ver), onnx.defs.get_schema(op, 21)
    if new.since_version == old.since_version:
        return True
    attrs = lambda sc: sorted((k, int(a.type), a.default_value.SerializeToString()) for k, a in sc.attributes.items())
    params = lambda ps: [(p.name, int(p.option)) for p in ps]
    return attrs(new) == attrs(old) and params(new.inputs) == params(old.inputs) and params(new.outputs) == params(old.outputs)


if __name__ == "__main__":
    os.makedirs(FIX, exist_ok=True)
    make_torch()
    make_keras()
    taken = make_node_tests()
    versions["onnxscript"] = __import__("onnxscript").__version__
    with open(os.path.join(FIX, "VERSIONS.json"), "w") as f:
        json.dump({"script": SCRIPT, "versions": versions, "exporters": EXPORTER, "nodeTests": taken}, f, indent=1)
    print(json.dumps(versions, indent=1))
    for k, v in EXPORTER.items():
        print(k, ":", v)
    print(len(taken), "node tests")

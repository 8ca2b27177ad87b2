"""The fully convolutional twin of a per-patch Keras network (the patch families' prediction graph).

Because nothing in a patch network built of valid, stride-1 convolutions, batch normalisation,
activations, a global pooling, a centre-pixel crop and dense layers depends on where the patch
sits, the same layers applied to a whole block plus a halo of k // 2 pixels give, for every
pixel, exactly what the per-patch network gives for the patch centred on it: valid convolutions
slide over the block, the global pooling over the last ``(2p+1) x (2p+1)`` map becomes a
stride-1 pooling of that size, and each dense layer becomes a 1x1 convolution holding the same
weights. A pixel then costs a few convolutions instead of a whole k x k patch through the network.
"""

from __future__ import annotations

from typing import Any


def fully_convolutional(model: Any) -> Any:
    """The fully convolutional twin of a per-patch network (as ``patch_cnn.build_patch_cnn`` builds).

    Convolution, batch-normalisation and activation layers are *shared* with ``model`` (same
    weights, inference mode); global pooling over the last s x s map becomes a stride-1
    pooling of size s; each dense layer becomes a 1x1 convolution with the dense weights
    copied; dropout and augmentation (identities at inference) are left out.

    Returns
    -------
    keras.Model
        Input ``(batch, rows + 2h, cols + 2h, bands)`` (any size >= k) -> probabilities
        ``(batch, rows, cols, n_classes)`` with h = k // 2; output pixel (i, j) equals the
        per-patch prediction for the patch centred on input pixel (i + h, j + h).
    """
    import keras

    k = int(model.inputs[0].shape[1])  # the per-patch input is (batch, k, k, bands)
    n_bands = int(model.inputs[0].shape[-1])
    inputs = keras.Input(shape=(None, None, n_bands), name="block")
    x = inputs
    centre = None
    size = k
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer | keras.layers.Dropout) \
                or type(layer).__name__ == "DihedralAugment":
            continue
        if isinstance(layer, keras.layers.Conv2D):
            if layer.padding != "valid" or tuple(layer.strides) != (1, 1) \
                    or tuple(layer.dilation_rate) != (1, 1):
                raise ValueError(f"layer {layer.name}: only valid, stride-1 convolutions are position-free")
            size -= layer.kernel_size[0] - 1
            x = layer(x)
        elif isinstance(layer, keras.layers.BatchNormalization | keras.layers.Activation
                        | keras.layers.ReLU):
            x = layer(x)
        elif isinstance(layer, keras.layers.Cropping2D):
            # a crop of the (augmented = at inference, raw) input to its centre: the same crop of
            # the block leaves each output pixel's own input pixel
            if tuple(map(tuple, layer.cropping)) != ((k // 2, k // 2), (k // 2, k // 2)):
                raise ValueError(f"layer {layer.name}: only a crop to the centre pixel is supported")
            centre = layer(inputs)
        elif isinstance(layer, keras.layers.Concatenate):
            if centre is None or size != 1:
                raise ValueError(f"layer {layer.name}: expected [features (1 x 1), centre pixel]")
            x = keras.layers.Concatenate(axis=-1, name=f"fcn_{layer.name}")([x, centre])
        elif isinstance(layer, keras.layers.GlobalAveragePooling2D):
            x = keras.layers.AveragePooling2D(pool_size=size, strides=1, padding="valid",
                                              name=f"fcn_{layer.name}")(x)
            size = 1
        elif isinstance(layer, keras.layers.GlobalMaxPooling2D):
            x = keras.layers.MaxPooling2D(pool_size=size, strides=1, padding="valid",
                                          name=f"fcn_{layer.name}")(x)
            size = 1
        elif isinstance(layer, keras.layers.Flatten):
            if size != 1:
                raise ValueError(f"Flatten over a {size} x {size} map has no position-free twin")
        elif isinstance(layer, keras.layers.Dense):
            kernel, bias = layer.get_weights()
            conv = keras.layers.Conv2D(kernel.shape[1], 1, activation=layer.activation,
                                       name=f"fcn_{layer.name}")
            x = conv(x)
            conv.set_weights([kernel.reshape(1, 1, *kernel.shape), bias])
        else:
            raise ValueError(f"layer {layer.name} ({type(layer).__name__}) has no fully convolutional twin")
    if size != 1:
        raise ValueError(f"the network ends on a {size} x {size} map; its receptive field is not the patch")
    return keras.Model(inputs, x, name=f"{model.name}_fcn")

"""Frame quality measures: exposure, sharpness and colourfulness, rounded for stable JSON."""

from __future__ import annotations

import numpy as np

#: A frame whose luma spread is below this is flat: one colour, a blank frame.
BLANK_CONTRAST = 0.02
#: A blank frame this dark is a black frame.
BLACK_BRIGHTNESS = 0.07
_DIGITS = 6


def _num(value: float) -> float:
    return round(float(value), _DIGITS)


def exposure(gray: np.ndarray) -> dict[str, float | bool]:
    """Brightness (mean luma), contrast (luma standard deviation) and blank/black flags."""
    brightness = float(gray.mean(dtype=np.float64))
    contrast = float(gray.std(dtype=np.float64))
    is_blank = contrast < BLANK_CONTRAST
    return {
        "brightness": _num(brightness),
        "contrast": _num(contrast),
        "is_blank": bool(is_blank),
        "is_black": bool(is_blank and brightness < BLACK_BRIGHTNESS),
    }


def sharpness(gray: np.ndarray) -> dict[str, float]:
    """Variance of the 4-neighbour Laplacian: higher means more fine detail, lower means blur."""
    if gray.shape[0] < 3 or gray.shape[1] < 3:
        return {"sharpness": 0.0}
    centre = gray[1:-1, 1:-1]
    laplacian = gray[:-2, 1:-1] + gray[2:, 1:-1] + gray[1:-1, :-2] + gray[1:-1, 2:] - 4 * centre
    return {"sharpness": _num(laplacian.var(dtype=np.float64))}


def colourfulness(frame: np.ndarray) -> dict[str, float]:
    """Hasler and Suesstrunk (2003) colourfulness on 0..1 channels; 0 for greyscale."""
    rgb = frame.astype(np.float32) / np.float32(255.0)
    red, green, blue = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    rg = red - green
    yb = 0.5 * (red + green) - blue
    rg_mean, yb_mean = rg.mean(dtype=np.float64), yb.mean(dtype=np.float64)
    # The standard deviations from the means already taken (np.std would take them again).
    rg_std = np.sqrt(np.square(rg - rg_mean).mean())
    yb_std = np.sqrt(np.square(yb - yb_mean).mean())
    return {"colourfulness": _num(np.hypot(rg_std, yb_std) + 0.3 * np.hypot(rg_mean, yb_mean))}

"""Prices of the products the shop sells, in cents."""

PRICES = {
    "TEA-GREEN": 450,
    "TEA-BLACK": 400,
    "MUG": 1200,
}


def price_of(sku):
    return PRICES[sku]

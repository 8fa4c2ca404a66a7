"""Pricing and receipts for orders."""

from shop.catalog import price_of


class OrderError(Exception):
    """An order that cannot be processed."""


def order_total(order):
    total = 0
    for item in order["items"]:
        total += price_of(item["sku"]) * item["qty"]
    return total


def price_order(order):
    try:
        return order_total(order)
    except KeyError as error:
        raise OrderError(f"order {order['id']} cannot be priced") from error


def receipt(order, customers):
    customer = customers.get(order["customer"])
    name = customer["name"]
    return f"{name}: {price_order(order) / 100:.2f} EUR"

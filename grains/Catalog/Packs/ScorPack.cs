using static AnalyticsEngine.Catalog.KpiDirection;
using static AnalyticsEngine.Catalog.FieldType;
using static AnalyticsEngine.Catalog.Packs.CatalogDsl;

namespace AnalyticsEngine.Catalog.Packs;

/// <summary>Supply chain (SCOR): order fulfilment, sourcing, returns and demand.</summary>
internal static class ScorPack
{
    public const string Chain = "SCOR";
    private const string Domain = "scor_data";

    public static readonly ValueChainDefinition ValueChain = new(
        Chain,
        "SCOR supply chain",
        "Supply Chain Operations Reference metrics: how reliably, quickly and cheaply orders reach customers, " +
        "how well suppliers deliver, and how much comes back.");

    public static readonly ModuleDefinition[] Modules =
    [
        new("SCOR_PLAN", "Plan", "Demand as it arrives: order volume, order value and cancellations.", Chain),
        new("SCOR_SOURCE", "Source", "Supplier performance on inbound receipts: punctuality, completeness, quality.", Chain),
        new("SCOR_DELIVER", "Deliver", "Order fulfilment reliability, responsiveness and delivery cost.", Chain),
        new("SCOR_RETURN", "Return", "Goods coming back from customers.", Chain),
    ];

    public static readonly ObjectModelDefinition[] ObjectModels =
    [
        // Fixed: ingest, storage and the demo generator depend on this exact shape and field order.
        EventObject(
            "orders", "Orders",
            "Customer orders, one row per order as known at ingest, with the outcome flags of the perfect-order definition.",
            Domain, "ordered_at", ["order_id"],
            [
                Required("order_id", Text, "Identifier of the order in the source system."),
                Required("ordered_at", Timestamp, "When the customer placed the order; places the order in time."),
                Required("order_value", Number, "Value of the order in the client's reporting currency."),
                Required("promised_at", Timestamp, "Delivery date and time committed to the customer."),
                Optional("delivered_at", Timestamp, "When the order reached the customer; empty while not delivered."),
                Required("on_time", FieldType.Boolean, "Delivered by the promised date and time."),
                Required("in_full", FieldType.Boolean, "Delivered with every line in the ordered quantity."),
                Required("damage_free", FieldType.Boolean, "Arrived without damage."),
                Required("documentation_complete", FieldType.Boolean, "Invoice, packing list and shipping documents were complete and correct."),
                Required("status", Text, "Order status: 'open', 'shipped', 'delivered' or 'cancelled'.").AsDimension(),
                Optional("carrier", Text, "Carrier that delivered the order.").AsDimension(),
            ]),
        EventObject(
            "shipments", "Shipments",
            "Outbound shipments; an order may ship in several.",
            Domain, "shipped_at", ["shipment_id"],
            [
                Required("shipment_id", Text, "Identifier of the shipment."),
                Required("order_id", Text, "Order the shipment belongs to."),
                Required("shipped_at", Timestamp, "When the shipment left the warehouse; places the shipment in time."),
                Optional("delivered_at", Timestamp, "When the carrier delivered it; empty while in transit."),
                Required("carrier", Text, "Carrier moving the shipment.").AsDimension(),
                Required("units", Integer, "Number of units in the shipment."),
                Optional("weight_kg", Number, "Gross weight in kilograms."),
                Required("freight_cost", Number, "Freight charged for the shipment, in the reporting currency."),
                Required("status", Text, "Shipment status: 'in_transit', 'delivered', 'lost' or 'returned'."),
            ],
            RefersTo("order_id", "orders", "order_id")),
        EventObject(
            "supplier_receipts", "Supplier receipts",
            "Goods received against purchase orders, one row per receipt.",
            Domain, "received_at", ["receipt_id"],
            [
                Required("receipt_id", Text, "Identifier of the goods receipt."),
                Required("purchase_order_id", Text, "Purchase order the goods were received against."),
                Required("supplier_id", Text, "Supplier that shipped the goods.").AsDimension(),
                Required("expected_at", Timestamp, "Delivery date and time the supplier confirmed."),
                Required("received_at", Timestamp, "When the goods were received; places the receipt in time."),
                Required("quantity_ordered", Integer, "Units ordered on the purchase-order line."),
                Required("quantity_received", Integer, "Units actually received."),
                Required("quantity_rejected", Integer, "Received units rejected at inspection."),
                Required("receipt_value", Number, "Purchase value of the received units, in the reporting currency."),
            ]),
        EventObject(
            "order_returns", "Order returns",
            "Goods returned by customers, one row per return.",
            Domain, "returned_at", ["return_id"],
            [
                Required("return_id", Text, "Identifier of the return."),
                Required("order_id", Text, "Order the goods were returned from."),
                Required("returned_at", Timestamp, "When the return was received; places the return in time."),
                Required("units", Integer, "Units returned."),
                Required("refund_value", Number, "Amount refunded or credited, in the reporting currency."),
                Optional("reason", Text, "Return reason: 'damaged', 'wrong_item', 'late', 'not_needed' or 'other'.").AsDimension(),
            ],
            RefersTo("order_id", "orders", "order_id")),
    ];

    public static readonly KpiDefinition[] Kpis =
    [
        // Deliver: reliability
        Define("POF", "Perfect Order Fulfillment",
            "Share of orders that were on time, in full, undamaged and correctly documented at once: the headline SCOR reliability measure.",
            "100 * count(orders) filter (where orders.on_time and orders.in_full and orders.damage_free and orders.documentation_complete) / count(orders)",
            Units.Percent, HigherIsBetter, "SCOR_DELIVER", Chain, "orders"),
        Define("OTD", "On-Time Delivery",
            "Share of orders delivered by the date and time promised to the customer.",
            "100 * count(orders) filter (where orders.on_time) / count(orders)",
            Units.Percent, HigherIsBetter, "SCOR_DELIVER", Chain, "orders"),
        Define("SCOR_IN_FULL_RATE", "In-Full Delivery Rate",
            "Share of orders delivered with every line in the ordered quantity.",
            "100 * count(orders) filter (where orders.in_full) / count(orders)",
            Units.Percent, HigherIsBetter, "SCOR_DELIVER", Chain, "orders"),
        Define("SCOR_DAMAGE_FREE_RATE", "Damage-Free Delivery Rate",
            "Share of orders that arrived without damage.",
            "100 * count(orders) filter (where orders.damage_free) / count(orders)",
            Units.Percent, HigherIsBetter, "SCOR_DELIVER", Chain, "orders"),
        Define("SCOR_DOCUMENTATION_ACCURACY", "Documentation Accuracy",
            "Share of orders whose invoice, packing and shipping documents were complete and correct.",
            "100 * count(orders) filter (where orders.documentation_complete) / count(orders)",
            Units.Percent, HigherIsBetter, "SCOR_DELIVER", Chain, "orders"),

        // Deliver: responsiveness and cost
        Define("SCOR_ORDER_FULFILLMENT_CYCLE_TIME", "Order Fulfillment Cycle Time",
            "Average hours from order placement to delivery, over the delivered orders placed in the period.",
            "avg(orders.delivered_at - orders.ordered_at) filter (where orders.delivered_at is not null) / 3600000",
            Units.Hours, LowerIsBetter, "SCOR_DELIVER", Chain, "orders"),
        Define("SCOR_AVG_DELIVERY_DELAY", "Average Delivery Delay",
            "For orders delivered after the promised time, the average number of hours they were late.",
            "avg(orders.delivered_at - orders.promised_at) filter (where orders.delivered_at > orders.promised_at) / 3600000",
            Units.Hours, LowerIsBetter, "SCOR_DELIVER", Chain, "orders"),
        Define("SCOR_FREIGHT_COST_PER_UNIT", "Freight Cost per Unit",
            "Freight spent on outbound shipments divided by the units they carried.",
            "sum(shipments.freight_cost) / sum(shipments.units)",
            Units.Currency, LowerIsBetter, "SCOR_DELIVER", Chain, "shipments"),

        // Plan: demand
        Define("SCOR_ORDER_COUNT", "Orders Received",
            "Number of customer orders placed in the period.",
            "count(orders)",
            Units.Count, HigherIsBetter, "SCOR_PLAN", Chain, "orders"),
        Define("SCOR_AVG_ORDER_VALUE", "Average Order Value",
            "Average value of the orders placed in the period, cancelled orders excluded.",
            "avg(orders.order_value) filter (where orders.status != 'cancelled')",
            Units.Currency, HigherIsBetter, "SCOR_PLAN", Chain, "orders"),
        Define("SCOR_CANCELLATION_RATE", "Order Cancellation Rate",
            "Share of the orders placed in the period that were cancelled.",
            "100 * count(orders) filter (where orders.status = 'cancelled') / count(orders)",
            Units.Percent, LowerIsBetter, "SCOR_PLAN", Chain, "orders"),

        // Source: supplier performance
        Define("SCOR_SUPPLIER_ON_TIME_RATE", "Supplier On-Time Rate",
            "Share of supplier receipts that arrived no later than the date the supplier confirmed.",
            "100 * count(supplier_receipts) filter (where supplier_receipts.received_at <= supplier_receipts.expected_at) / count(supplier_receipts)",
            Units.Percent, HigherIsBetter, "SCOR_SOURCE", Chain, "supplier_receipts"),
        Define("SCOR_SUPPLIER_FILL_RATE", "Supplier Fill Rate",
            "Units received as a share of the units ordered on the same purchase-order lines.",
            "100 * sum(supplier_receipts.quantity_received) / sum(supplier_receipts.quantity_ordered)",
            Units.Percent, HigherIsBetter, "SCOR_SOURCE", Chain, "supplier_receipts"),
        Define("SCOR_SUPPLIER_REJECT_RATE", "Supplier Reject Rate",
            "Share of received units rejected at inspection.",
            "100 * sum(supplier_receipts.quantity_rejected) / sum(supplier_receipts.quantity_received)",
            Units.Percent, LowerIsBetter, "SCOR_SOURCE", Chain, "supplier_receipts"),

        // Return
        Define("SCOR_RETURN_RATE", "Return Rate",
            "Returns received in the period per hundred orders placed in the same period.",
            "100 * count(order_returns) / count(orders)",
            Units.Percent, LowerIsBetter, "SCOR_RETURN", Chain, "order_returns", "orders"),
        Define("SCOR_REFUND_RATE", "Refund Rate",
            "Value refunded on returns as a share of the value of orders placed in the same period.",
            "100 * coalesce(sum(order_returns.refund_value), 0) / sum(orders.order_value) filter (where orders.status != 'cancelled')",
            Units.Percent, LowerIsBetter, "SCOR_RETURN", Chain, "order_returns", "orders"),
    ];
}

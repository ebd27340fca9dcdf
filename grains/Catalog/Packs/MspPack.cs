using static AnalyticsEngine.Catalog.KpiDirection;
using static AnalyticsEngine.Catalog.FieldType;
using static AnalyticsEngine.Catalog.Packs.CatalogDsl;

namespace AnalyticsEngine.Catalog.Packs;

/// <summary>
/// Managed service providers: the profitability, license-efficiency and resource-utilization analyses of the MSP
/// specification, over the MSP's own customers (managed clients), invoices, time logs and licenses.
/// </summary>
internal static class MspPack
{
    public const string Chain = "MSP";
    private const string Domain = "msp_data";

    public static readonly ValueChainDefinition ValueChain = new(
        Chain,
        "Managed services",
        "For managed service providers: which managed clients are profitable, how well software licenses are used, " +
        "and how much of the staff's time is billable.");

    public static readonly ModuleDefinition[] Modules =
    [
        new("MSP_PROFITABILITY", "Profitability", "Revenue, delivery cost and margin per managed client.", Chain),
        new("MSP_LICENSE_EFFICIENCY", "License efficiency", "Seats used against seats paid for, and the money spent on idle seats.", Chain),
        new("MSP_RESOURCE_UTILIZATION", "Resource utilization", "How staff time divides into billable and non-billable work, and what it earns.", Chain),
    ];

    public static readonly ObjectModelDefinition[] ObjectModels =
    [
        SnapshotObject(
            "managed_clients", "Managed clients",
            $"The MSP's own customers (not AnalyticsEngine clients). {SnapshotRule}",
            Domain, "updated_at", ["client_name"],
            [
                Required("client_name", Text, "Unique name of the managed client."),
                Optional("industry", Text, "Industry of the managed client."),
                Required("status", Text, "Status: 'Active', 'Inactive' or 'Prospect'."),
                Optional("contract_value", Number, "Contracted value, in the reporting currency."),
                Optional("created_at", Timestamp, "When the managed client was added."),
                Required("updated_at", Timestamp, "When this state of the managed client became true; a later row replaces it from then on."),
            ]),
        EventObject(
            "invoices", "Invoices",
            "Invoices the MSP issued to its managed clients.",
            Domain, "invoiced_at", ["invoice_id"],
            [
                Required("invoice_id", Text, "Unique identifier of the invoice."),
                Required("client_name", Text, "Managed client invoiced.").AsDimension(),
                Required("amount", Number, "Invoiced amount, zero or more, in the reporting currency."),
                Required("invoiced_at", Timestamp, "Invoice date; places the invoice in time."),
                Required("status", Text, "Status: 'Paid', 'Pending', 'Overdue', 'Cancelled' or 'Void'. Only Paid and Pending count as revenue."),
                Optional("description", Text, "What the invoice is for."),
            ],
            RefersTo("client_name", "managed_clients", "client_name")),
        EventObject(
            "time_logs", "Time logs",
            "Hours staff logged against managed clients.",
            Domain, "logged_at", ["time_log_id"],
            [
                Required("time_log_id", Text, "Identifier of the time log."),
                Required("staff_name", Text, "Staff member who did the work."),
                Required("client_name", Text, "Managed client the work was for.").AsDimension(),
                Required("hours", Number, "Hours worked, 0 to 24."),
                Required("rate", Number, "Hourly rate of the work, zero or more, in the reporting currency."),
                Required("billable", FieldType.Boolean, "The hours are billable to the client."),
                Required("logged_at", Timestamp, "Date the work was done; places the log in time."),
                Optional("project", Text, "Project the work belongs to."),
                Optional("task_description", Text, "What was done."),
            ],
            RefersTo("client_name", "managed_clients", "client_name")),
        SnapshotObject(
            "licenses", "Licenses",
            $"Software subscriptions the MSP manages for its clients, with their seat counts. {SnapshotRule}",
            Domain, "updated_at", ["license_id"],
            [
                Required("license_id", Text, "Identifier of the subscription."),
                Required("client_name", Text, "Managed client that holds the license."),
                Required("product_name", Text, "Licensed product."),
                Optional("vendor", Text, "Vendor of the product."),
                Required("seats_purchased", Integer, "Seats paid for; more than zero."),
                Required("seats_used", Integer, "Seats assigned and in use; between zero and seats purchased."),
                Required("cost_per_seat", Number, "Price of one seat per billing period, in the reporting currency."),
                Required("status", Text, "Status: 'Active', 'Expired' or 'Cancelled'."),
                Optional("created_at", Timestamp, "When the license was first recorded."),
                Required("updated_at", Timestamp, "When these seat counts and status were reported; a later row replaces them from then on."),
            ],
            RefersTo("client_name", "managed_clients", "client_name")),
    ];

    // The MSP specification's definitions: revenue is Paid plus Pending invoices; delivery cost is billable hours at their rate.
    private const string Revenue = "sum(invoices.amount) filter (where invoices.status in ('Paid', 'Pending'))";
    private const string DeliveryCost = "coalesce(sum(time_logs.hours * time_logs.rate) filter (where time_logs.billable), 0)";
    private const string ActiveSeatsUsed = "sum(licenses.seats_used) filter (where licenses.status = 'Active')";
    private const string ActiveSeatsPurchased = "sum(licenses.seats_purchased) filter (where licenses.status = 'Active')";

    public static readonly KpiDefinition[] Kpis =
    [
        Define("MSP_REVENUE", "Recognised Revenue",
            "Amount of Paid and Pending invoices; cancelled, void and overdue invoices do not count.",
            $"coalesce({Revenue}, 0)",
            Units.Currency, HigherIsBetter, "MSP_PROFITABILITY", Chain, "invoices"),
        Define("MSP_DELIVERY_COST", "Delivery Cost",
            "Billable hours valued at their logged rate: the cost side of the MSP profitability analysis.",
            DeliveryCost,
            Units.Currency, LowerIsBetter, "MSP_PROFITABILITY", Chain, "time_logs"),
        Define("MSP_PROFIT", "Profit",
            "Recognised revenue minus delivery cost.",
            $"coalesce({Revenue}, 0) - {DeliveryCost}",
            Units.Currency, HigherIsBetter, "MSP_PROFITABILITY", Chain, "invoices", "time_logs"),
        Define("MSP_PROFIT_MARGIN", "Profit Margin",
            "Profit as a share of recognised revenue: (Paid and Pending invoices minus billable hours times rate) over those invoices. No value when there is no revenue.",
            $"100 * ({Revenue} - {DeliveryCost}) / {Revenue}",
            Units.Percent, HigherIsBetter, "MSP_PROFITABILITY", Chain, "invoices", "time_logs"),
        Define("MSP_COLLECTED_REVENUE_SHARE", "Collected Revenue Share",
            "Share of recognised revenue already paid rather than pending.",
            $"100 * sum(invoices.amount) filter (where invoices.status = 'Paid') / {Revenue}",
            Units.Percent, HigherIsBetter, "MSP_PROFITABILITY", Chain, "invoices"),

        Define("MSP_LICENSE_UTILIZATION", "License Utilization",
            "Seats in use as a share of seats purchased, over the licenses active at the end of the period.",
            $"100 * {ActiveSeatsUsed} / {ActiveSeatsPurchased}",
            Units.Percent, HigherIsBetter, "MSP_LICENSE_EFFICIENCY", Chain, "licenses"),
        Define("MSP_LICENSE_WASTE", "License Waste",
            "Money paid per billing period for seats purchased but unused, over the licenses active at the end of the period.",
            "coalesce(sum((licenses.seats_purchased - licenses.seats_used) * licenses.cost_per_seat) filter (where licenses.status = 'Active'), 0)",
            Units.Currency, LowerIsBetter, "MSP_LICENSE_EFFICIENCY", Chain, "licenses"),
        Define("MSP_LICENSE_WASTE_RATE", "License Waste Rate",
            "Share of license spend that pays for unused seats, over the licenses active at the end of the period.",
            "100 * sum((licenses.seats_purchased - licenses.seats_used) * licenses.cost_per_seat) filter (where licenses.status = 'Active') / " +
            "sum(licenses.seats_purchased * licenses.cost_per_seat) filter (where licenses.status = 'Active')",
            Units.Percent, LowerIsBetter, "MSP_LICENSE_EFFICIENCY", Chain, "licenses"),

        Define("MSP_BILLABLE_UTILIZATION", "Billable Utilization",
            "Billable hours as a share of all hours logged.",
            "100 * coalesce(sum(time_logs.hours) filter (where time_logs.billable), 0) / sum(time_logs.hours)",
            Units.Percent, HigherIsBetter, "MSP_RESOURCE_UTILIZATION", Chain, "time_logs"),
        Define("MSP_BILLABLE_HOURS", "Billable Hours",
            "Hours logged as billable to managed clients.",
            "coalesce(sum(time_logs.hours) filter (where time_logs.billable), 0)",
            Units.Hours, HigherIsBetter, "MSP_RESOURCE_UTILIZATION", Chain, "time_logs"),
        Define("MSP_AVG_BILLABLE_RATE", "Average Billable Rate",
            "Billable value earned per billable hour (hours-weighted average rate).",
            "sum(time_logs.hours * time_logs.rate) filter (where time_logs.billable) / sum(time_logs.hours) filter (where time_logs.billable)",
            Units.Currency, HigherIsBetter, "MSP_RESOURCE_UTILIZATION", Chain, "time_logs"),
        Define("MSP_HOURS_PER_STAFF", "Hours Logged per Staff Member",
            "Average hours logged by each staff member who logged time in the period.",
            "sum(time_logs.hours) / count_distinct(time_logs.staff_name)",
            Units.Hours, HigherIsBetter, "MSP_RESOURCE_UTILIZATION", Chain, "time_logs"),
    ];
}

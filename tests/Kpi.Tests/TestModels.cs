using AnalyticsEngine.Catalog;
using AnalyticsEngine.Ingest;
using AnalyticsEngine.Kpi.Engine;

namespace AnalyticsEngine.Kpi.Tests;

/// <summary>Small object models used across the engine tests: two event objects and one snapshot object.</summary>
internal static class TestModels
{
    public static readonly ObjectModelDefinition Orders = new(
        "orders", "Orders", "Customer orders", "scor_data", ObjectKind.Event, "ordered_at", ["order_id"],
        [
            Field("order_id", FieldType.Text),
            Field("customer", FieldType.Text),
            Field("status", FieldType.Text),
            Field("value", FieldType.Number),
            Field("quantity", FieldType.Integer),
            Field("on_time", FieldType.Boolean),
            Field("in_full", FieldType.Boolean),
            Field("ordered_at", FieldType.Timestamp),
            Field("promised_at", FieldType.Timestamp),
            Field("delivered_at", FieldType.Timestamp),
        ],
        []);

    public static readonly ObjectModelDefinition Invoices = new(
        "invoices", "Invoices", "Invoices", "financial_data", ObjectKind.Event, "issued_at", ["invoice_id"],
        [
            Field("invoice_id", FieldType.Text),
            Field("status", FieldType.Text),
            Field("amount", FieldType.Number),
            Field("issued_at", FieldType.Timestamp),
        ],
        []);

    public static readonly ObjectModelDefinition TimeLogs = new(
        "time_logs", "Time logs", "Hours logged", "msp_data", ObjectKind.Event, "logged_at", ["log_id"],
        [
            Field("log_id", FieldType.Text),
            Field("user", FieldType.Text),
            Field("hours", FieldType.Number),
            Field("rate", FieldType.Number),
            Field("billable", FieldType.Boolean),
            Field("logged_at", FieldType.Timestamp),
        ],
        []);

    public static readonly ObjectModelDefinition Licenses = new(
        "licenses", "Licenses", "License seat counts, observed over time", "msp_data", ObjectKind.Snapshot, "observed_at", ["license_id"],
        [
            Field("license_id", FieldType.Text),
            Field("product", FieldType.Text),
            Field("seats_purchased", FieldType.Integer),
            Field("seats_used", FieldType.Integer),
            Field("price", FieldType.Number),
            Field("active", FieldType.Boolean),
            Field("observed_at", FieldType.Timestamp),
        ],
        []);

    public static readonly IReadOnlyDictionary<string, ObjectModelDefinition> All =
        new Dictionary<string, ObjectModelDefinition>(StringComparer.Ordinal)
        {
            [Orders.Code] = Orders,
            [Invoices.Code] = Invoices,
            [TimeLogs.Code] = TimeLogs,
            [Licenses.Code] = Licenses,
        };

    public static readonly ObjectModelLayout OrdersLayout = new(Orders);
    public static readonly ObjectModelLayout InvoicesLayout = new(Invoices);
    public static readonly ObjectModelLayout TimeLogsLayout = new(TimeLogs);
    public static readonly ObjectModelLayout LicensesLayout = new(Licenses);

    public static ObjectModelLayout LayoutOf(string objectModel) => objectModel switch
    {
        "orders" => OrdersLayout,
        "invoices" => InvoicesLayout,
        "time_logs" => TimeLogsLayout,
        _ => LicensesLayout,
    };

    public static KpiDefinition Kpi(string code, string formula) =>
        new(code, code, code, formula, "", KpiDirection.HigherIsBetter, [], "test", "test");

    public static EventRow Order(long sequence, DateTimeOffset at, double? value = null, bool? onTime = null, bool? inFull = null, string? status = null, string? customer = null) =>
        OrdersLayout.CreateRow(sequence, at, new Dictionary<string, object?>
        {
            ["value"] = value,
            ["on_time"] = onTime,
            ["in_full"] = inFull,
            ["status"] = status,
            ["customer"] = customer,
            ["ordered_at"] = at,
        });

    public static EventRow License(long sequence, DateTimeOffset at, string id, int purchased, int used, string? product = null) =>
        LicensesLayout.CreateRow(sequence, at, new Dictionary<string, object?>
        {
            ["license_id"] = id,
            ["seats_purchased"] = purchased,
            ["seats_used"] = used,
            ["product"] = product,
            ["observed_at"] = at,
        });

    private static FieldDefinition Field(string name, FieldType type) => new(name, type, name);
}

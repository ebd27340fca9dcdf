using AnalyticsEngine.Catalog;
using AnalyticsEngine.Ingest;
using AnalyticsEngine.Kpi.Engine;

namespace AnalyticsEngine.Kpi.Benchmarks;

/// <summary>One client with 20 KPIs over three event object models (orders, invoices, time logs), and its rows.</summary>
internal static class Workload
{
    public static readonly ObjectModelDefinition Orders = Model("orders", "ordered_at",
        ("order_id", FieldType.Text), ("customer", FieldType.Text), ("status", FieldType.Text), ("value", FieldType.Number),
        ("on_time", FieldType.Boolean), ("in_full", FieldType.Boolean), ("ordered_at", FieldType.Timestamp),
        ("promised_at", FieldType.Timestamp), ("delivered_at", FieldType.Timestamp));

    public static readonly ObjectModelDefinition Invoices = Model("invoices", "issued_at",
        ("invoice_id", FieldType.Text), ("status", FieldType.Text), ("amount", FieldType.Number), ("issued_at", FieldType.Timestamp));

    public static readonly ObjectModelDefinition TimeLogs = Model("time_logs", "logged_at",
        ("user", FieldType.Text), ("hours", FieldType.Number), ("rate", FieldType.Number), ("billable", FieldType.Boolean), ("logged_at", FieldType.Timestamp));

    public static readonly IReadOnlyDictionary<string, ObjectModelDefinition> Models = new Dictionary<string, ObjectModelDefinition>
    {
        ["orders"] = Orders,
        ["invoices"] = Invoices,
        ["time_logs"] = TimeLogs,
    };

    public static readonly IReadOnlyList<KpiDefinition> Kpis =
    [
        Kpi("POF", "100 * count(orders) filter (where orders.on_time and orders.in_full) / count(orders)"),
        Kpi("OTD", "100 * count(orders) filter (where orders.on_time) / count(orders)"),
        Kpi("IN_FULL", "100 * count(orders) filter (where orders.in_full) / count(orders)"),
        Kpi("AOV", "avg(orders.value)"),
        Kpi("ORDER_REVENUE", "sum(orders.value)"),
        Kpi("CYCLE_HOURS", "avg(orders.delivered_at - orders.ordered_at) / 3600000"),
        Kpi("LATE_ORDERS", "count(orders) filter (where orders.delivered_at > orders.promised_at)"),
        Kpi("MAX_ORDER", "max(orders.value)"),
        Kpi("CUSTOMERS", "count_distinct(orders.customer)"),
        Kpi("BIG_ORDERS", "count(orders) filter (where orders.value >= 500)"),
        Kpi("INVOICED", "sum(invoices.amount) filter (where invoices.status in ('Paid', 'Pending'))"),
        Kpi("PAID_RATE", "100 * count(invoices) filter (where invoices.status = 'Paid') / count(invoices)"),
        Kpi("AVG_INVOICE", "avg(invoices.amount)"),
        Kpi("OVERDUE", "count(invoices) filter (where invoices.status = 'Overdue')"),
        Kpi("HOURS", "sum(time_logs.hours)"),
        Kpi("BILLABLE_UTIL", "100 * sum(time_logs.hours) filter (where time_logs.billable) / sum(time_logs.hours)"),
        Kpi("LABOR_COST", "sum(time_logs.hours * time_logs.rate)"),
        Kpi("PROFIT_MARGIN", "100 * (sum(invoices.amount) filter (where invoices.status in ('Paid', 'Pending')) - sum(time_logs.hours * time_logs.rate) filter (where time_logs.billable)) / sum(invoices.amount) filter (where invoices.status in ('Paid', 'Pending'))"),
        Kpi("AVG_RATE", "avg(time_logs.rate)"),
        Kpi("ACTIVE_USERS", "count_distinct(time_logs.user)"),
    ];

    public static readonly DateTimeOffset Start = new(2026, 6, 10, 0, 0, 0, TimeSpan.Zero);

    /// <summary>Rows spread evenly over <paramref name="span"/>, out of order by up to <paramref name="jitterSeconds"/>, in batches as the stream delivers them.</summary>
    public static Dictionary<string, EventRow[][]> Rows(int perModel, TimeSpan span, int batchSize, int jitterSeconds = 3, int seed = 42)
    {
        var random = new Random(seed);
        var customers = Enumerable.Range(0, 1000).Select(i => "customer-" + i).ToArray();
        var users = Enumerable.Range(0, 50).Select(i => "user-" + i).ToArray();
        string[] statuses = ["Paid", "Pending", "Overdue", "Void"];
        var result = new Dictionary<string, EventRow[][]>();
        foreach (var model in Models.Values)
        {
            var layout = new ObjectModelLayout(model);
            var rows = new EventRow[perModel];
            for (var i = 0; i < perModel; i++)
            {
                var time = Start + (span * i / perModel) + TimeSpan.FromSeconds(random.Next(-jitterSeconds, jitterSeconds + 1));
                var (numbers, texts) = layout.NewRowArrays();
                foreach (var field in model.Fields)
                {
                    var slot = layout.Slot(field.Name);
                    switch (field.Type)
                    {
                        case FieldType.Text:
                            texts[slot.Index] = field.Name switch
                            {
                                "customer" => customers[random.Next(customers.Length)],
                                "user" => users[random.Next(users.Length)],
                                "status" => statuses[random.Next(statuses.Length)],
                                _ => null,
                            };
                            break;
                        case FieldType.Boolean:
                            numbers[slot.Index] = random.Next(10) < 8 ? 1 : 0;
                            break;
                        case FieldType.Timestamp:
                            numbers[slot.Index] = time.ToUnixTimeMilliseconds() + (field.Name == model.EventTimeField ? 0 : random.Next(0, 3 * 86_400_000));
                            break;
                        default:
                            numbers[slot.Index] = Math.Round(random.NextDouble() * 1000, 2);
                            break;
                    }
                }

                rows[i] = new EventRow(i + 1, time, numbers, texts);
            }

            result[model.Code] = rows.Chunk(batchSize).ToArray();
        }

        return result;
    }

    private static KpiDefinition Kpi(string code, string formula) =>
        new(code, code, code, formula, "", KpiDirection.HigherIsBetter, [], "bench", "bench");

    private static ObjectModelDefinition Model(string code, string eventTimeField, params (string Name, FieldType Type)[] fields) =>
        new(code, code, code, "bench", ObjectKind.Event, eventTimeField, [], fields.Select(f => new FieldDefinition(f.Name, f.Type, f.Name)).ToList(), []);
}

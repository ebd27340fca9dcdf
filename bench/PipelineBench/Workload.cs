using System.Globalization;
using System.Text;
using System.Text.Json;
using AnalyticsEngine.Catalog;
using AnalyticsEngine.Clients;
using AnalyticsEngine.Ingest;

namespace AnalyticsEngine.PipelineBench;

/// <summary>
/// The clients, their KPIs and the order batches. Every KPI reads <c>orders</c>, so every ingested event
/// is a dependency of every KPI the client computes: the heaviest case for a given number of KPIs.
/// </summary>
public sealed class Workload
{
    /// <summary>The catalog KPIs that read orders; the watched KPI (<c>SCOR_ORDER_COUNT</c>) comes first.</summary>
    private static readonly string[] CatalogKpis =
    [
        "SCOR_ORDER_COUNT", "POF", "OTD", "SCOR_IN_FULL_RATE", "SCOR_DAMAGE_FREE_RATE", "SCOR_DOCUMENTATION_ACCURACY",
        "SCOR_ORDER_FULFILLMENT_CYCLE_TIME", "SCOR_AVG_DELIVERY_DELAY", "SCOR_AVG_ORDER_VALUE", "SCOR_CANCELLATION_RATE",
        "SCOR_RETURN_RATE", "SCOR_REFUND_RATE",
    ];

    /// <summary>The catalog has 12 KPIs over orders; client-specific KPIs (a product feature) make up the rest.</summary>
    private static readonly KpiDefinition[] CustomKpis =
    [
        Custom("PB_ORDER_REVENUE", "sum(orders.order_value) filter (where orders.status != 'cancelled')", "currency"),
        Custom("PB_MAX_ORDER_VALUE", "max(orders.order_value)", "currency"),
        Custom("PB_MIN_ORDER_VALUE", "min(orders.order_value)", "currency"),
        Custom("PB_LATE_ORDER_VALUE", "sum(orders.order_value) filter (where not orders.on_time)", "currency"),
        Custom("PB_DELIVERED_SHARE", "100 * count(orders) filter (where orders.status = 'delivered') / count(orders)", "percent"),
        Custom("PB_LARGE_ORDER_SHARE", "100 * count(orders) filter (where orders.order_value > 80) / count(orders)", "percent"),
        Custom("PB_PARCEL_CARRIER_SHARE", "100 * count(orders) filter (where orders.carrier in ('DHL', 'UPS')) / count(orders)", "percent"),
        Custom("PB_UNDELIVERED_COUNT", "count(orders) filter (where orders.delivered_at is null)", "count"),
    ];

    public static int KpiCount => CatalogKpis.Length + CustomKpis.Length;

    /// <summary>Distinct batch bodies, reused round-robin: generating rows must not compete with the pipeline for CPU.</summary>
    private const int BodyPool = 256;

    public const string ObjectModel = "orders";

    public const string WatchedKpi = "SCOR_ORDER_COUNT";

    private readonly BenchOptions _options;

    public Workload(BenchOptions options, string runId)
    {
        _options = options;
        Clients = [.. Enumerable.Range(0, options.Clients).Select(i => $"{runId}-c{i:D4}")];
        RawClients = [.. Enumerable.Range(0, options.Clients).Select(i => $"{runId}-raw{i:D4}")];
        var selected = CatalogKpis.Concat(CustomKpis.Select(k => k.Code)).Take(options.Kpis).ToList();
        SelectedKpis = selected;
        SelectedCustomKpis = [.. CustomKpis.Where(k => selected.Contains(k.Code))];

        var table = ObjectModelTables.BuiltIn.Get(ObjectModel);
        var random = new Random(4);
        var now = DateTimeOffset.UtcNow;
        Bodies = new byte[BodyPool][];
        ParsedBodies = new ParsedRow[BodyPool][];
        for (var b = 0; b < BodyPool; b++)
        {
            var orders = Enumerable.Range(0, options.BatchSize).Select(i => Order(random, now, $"o{b}-{i}")).ToList();
            Bodies[b] = options.Format == "csv" ? Csv(orders) : JsonSerializer.SerializeToUtf8Bytes(orders);
            // The raw COPY phase writes exactly the rows the ingest grain would: parsed by the product's parser.
            var parsed = options.Format == "csv"
                ? CsvRowParser.Parse(Bodies[b], table.Layout, int.MaxValue)
                : JsonRowParser.Parse(Bodies[b], table.Layout, int.MaxValue);
            if (parsed.Errors.Count > 0 || parsed.Rows.Count != options.BatchSize)
            {
                throw new InvalidOperationException($"generated batch refused: {string.Join("; ", parsed.Errors)}");
            }

            ParsedBodies[b] = [.. parsed.Rows];
        }
    }

    /// <summary>Clients that ingest through the pipeline.</summary>
    public IReadOnlyList<string> Clients { get; }

    /// <summary>Partition keys of the raw COPY phase: same table, rows of their own (they are not clients).</summary>
    public IReadOnlyList<string> RawClients { get; }

    public IReadOnlyList<string> SelectedKpis { get; }

    public IReadOnlyList<KpiDefinition> SelectedCustomKpis { get; }

    public byte[][] Bodies { get; }

    public ParsedRow[][] ParsedBodies { get; }

    public IngestFormat Format => _options.Format == "csv" ? IngestFormat.Csv : IngestFormat.Json;

    public ClientConfig ConfigFor(string clientId) =>
        new(clientId, "Pipeline benchmark", "UTC", SelectedKpis, SelectedCustomKpis, [], 0);

    private static KpiDefinition Custom(string code, string formula, string unit) =>
        new(code, code, "Pipeline benchmark KPI over orders.", formula, unit, KpiDirection.HigherIsBetter, [ObjectModel], "SCOR_DELIVER", "SCOR");

    private static readonly string[] Statuses = ["delivered", "delivered", "delivered", "shipped", "open", "cancelled"];

    private static readonly string?[] Carriers = ["DHL", "UPS", "FedEx", "PostNL", null];

    /// <summary>An order placed in the 20 minutes before the run: every batch lands in the current day and hour buckets.</summary>
    private static Dictionary<string, object?> Order(Random random, DateTimeOffset now, string orderId)
    {
        var orderedAt = now.AddMilliseconds(-random.Next(60_000, 20 * 60_000));
        var delivered = random.NextDouble() < 0.8;
        return new Dictionary<string, object?>
        {
            ["order_id"] = orderId,
            ["ordered_at"] = orderedAt,
            ["order_value"] = Math.Round(random.NextDouble() * 100, 2),
            ["promised_at"] = orderedAt.AddHours(24),
            ["delivered_at"] = delivered ? orderedAt.AddMinutes(random.Next(60, 48 * 60)) : null,
            ["on_time"] = random.NextDouble() < 0.7,
            ["in_full"] = random.NextDouble() < 0.9,
            ["damage_free"] = random.NextDouble() < 0.95,
            ["documentation_complete"] = random.NextDouble() < 0.9,
            ["status"] = Statuses[random.Next(Statuses.Length)],
            ["carrier"] = Carriers[random.Next(Carriers.Length)],
        };
    }

    private static byte[] Csv(List<Dictionary<string, object?>> orders)
    {
        var csv = new StringBuilder();
        csv.AppendJoin(',', orders[0].Keys).Append('\n');
        foreach (var order in orders)
        {
            csv.AppendJoin(',', order.Values.Select(v => v switch
            {
                null => "",
                DateTimeOffset t => t.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture),
                bool b => b ? "true" : "false",
                double d => d.ToString(CultureInfo.InvariantCulture),
                _ => v.ToString(),
            })).Append('\n');
        }

        return Encoding.UTF8.GetBytes(csv.ToString());
    }
}

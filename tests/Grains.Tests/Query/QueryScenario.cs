using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using AnalyticsEngine.Catalog;
using AnalyticsEngine.Clients;
using AnalyticsEngine.Ingest;
using AnalyticsEngine.Kpi;
using AnalyticsEngine.Query;
using Npgsql;

namespace AnalyticsEngine.Grains.Tests.Query;

/// <summary>
/// One client with every catalog KPI and a few custom ones selected, and random rows for every object model of the
/// catalog ingested through the real ingest grain: out of order, the oldest rows last (late events), snapshot keys
/// updated many times. Built once and shared by the query tests.
/// </summary>
internal sealed partial class QueryScenario
{
    public const string TimeZone = "America/St_Johns"; // UTC-03:30: days and hours that are not UTC's

    public static readonly KpiDefinition[] CustomKpis =
    [
        Custom("Q_LATE_VALUE", "sum(orders.order_value) filter (where orders.delivered_at > orders.promised_at and orders.carrier in ('v1', 'v2'))"),
        Custom("Q_SPREAD", "max(orders.order_value) - min(orders.order_value) filter (where orders.status != 'cancelled')"),
        Custom("Q_CARRIERS", "count_distinct(orders.carrier) filter (where orders.carrier is not null) + count_distinct(orders.on_time)"),
        Custom("Q_ROUNDED", "round(avg(orders.order_value), 1) + count(orders.delivered_at) - count(orders.carrier)"),
        Custom("Q_ROW_MATH", "sum(abs(orders.order_value - 50) * 2) filter (where not (orders.status in ('open')) or orders.carrier is null) / greatest(count(orders), 1)"),
        Custom("Q_ROW_ROUND", "count(orders) filter (where round(orders.order_value / 3, 1) > 10 and round(orders.order_value, -1) != 20)"),
        Custom("Q_TIMES", "max(orders.delivered_at) - min(orders.ordered_at) + avg(orders.delivered_at - orders.promised_at) filter (where orders.on_time = false)"),
        Custom("Q_SEATS", "100 * sum(licenses.seats_used) filter (where licenses.status = 'Active' and licenses.vendor is not null) / sum(licenses.seats_purchased)"),
        Custom("Q_MIXED", "count(orders) / (count(order_returns) + count_distinct(licenses.product_name))"),
    ];

    private QueryScenario(string clientId, IReadOnlyList<string> kpis, IReadOnlyDictionary<string, long> lastSequences)
    {
        ClientId = clientId;
        Kpis = kpis;
        LastSequences = lastSequences;
    }

    public string ClientId { get; }

    public IReadOnlyList<string> Kpis { get; }

    public IReadOnlyDictionary<string, long> LastSequences { get; }

    /// <remarks>
    /// Each event object model is rolled up after half its batches (the fixture's ingest grains never roll up on their
    /// own), so queries read whole slots from rollups, the newer rows of those slots raw, and the edges raw.
    /// </remarks>
    /// <summary>
    /// A client with every catalog KPI and <see cref="CustomKpis"/>, and random rows of every object model with event
    /// times in [<paramref name="from"/>, <paramref name="to"/>) (the last 20 hours unless given), a sixth of them late.
    /// </summary>
    public static async Task<QueryScenario> CreateAsync(
        IClusterClient cluster, NpgsqlDataSource database, int seed, DateTimeOffset? from = null, DateTimeOffset? to = null)
    {
        var random = new Random(seed);
        var clientId = "q-" + Guid.NewGuid().ToString("N")[..10];
        var kpis = BuiltInCatalog.Kpis.Select(k => k.Code).Concat(CustomKpis.Select(k => k.Code)).ToArray();
        var config = new ClientConfig(clientId, "Query consistency", TimeZone, kpis, CustomKpis, [], 0);
        var problems = await cluster.GetGrain<IClientConfigGrain>(clientId).Put(config);
        Assert.Empty(problems);

        var now = DateTimeOffset.UtcNow;
        var start = (from ?? now.AddHours(-20)).ToUnixTimeMilliseconds();
        var span = (to ?? now.AddMinutes(-2)).ToUnixTimeMilliseconds() - start;
        var hotMinutes = Enumerable.Range(0, 40).Select(_ => start + random.NextInt64(span - 60_000)).ToArray();
        var last = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var model in BuiltInCatalog.ObjectModels)
        {
            var count = model.Kind == ObjectKind.Snapshot ? 150 : 300;
            var rows = new List<(long Time, Dictionary<string, object?> Row)>(count);
            for (var i = 0; i < count; i++)
            {
                var time = random.Next(2) == 0 ? hotMinutes[random.Next(hotMinutes.Length)] + random.Next(60_000) : start + random.NextInt64(span);
                rows.Add((time, Row(model, i, time, random)));
            }

            // Out of order, and the oldest sixth arrives last: late events correct buckets already published.
            var shuffled = rows.OrderBy(_ => random.Next()).ToList();
            var late = shuffled.OrderBy(r => r.Time).Take(count / 6).ToHashSet();
            var ordered = shuffled.Where(r => !late.Contains(r)).Concat(late).Select(r => r.Row).ToList();
            for (var offset = 0; offset < ordered.Count; offset += 70)
            {
                var batch = ordered.Skip(offset).Take(70).ToArray();
                var result = await cluster.GetGrain<IIngestGrain>(IngestKeys.For(clientId, model.Code))
                    .Ingest(new IngestRequest(IngestFormat.Json, JsonSerializer.SerializeToUtf8Bytes(batch), IngestPolicy.RejectBatch, null));
                Assert.True(result.Status == IngestStatus.Committed, $"{model.Code}: {string.Join("; ", result.Errors)}");
                last[model.Code] = result.ToSequence;
                if (offset < ordered.Count / 2 && offset + 70 >= ordered.Count / 2 && TermRollups.ForClient(config).TryGetValue(model.Code, out var rollups))
                {
                    Assert.Equal(offset + batch.Length, (await RollUpAsync(rollups, database, clientId)).Rows);
                }
            }
        }

        await WaitUntilAppliedAsync(cluster, clientId, last);
        return new QueryScenario(clientId, kpis, last);
    }

    /// <summary>Waits until the client's computation has applied every committed row.</summary>
    /// <summary>
    /// Rolls up every row of the partition. A roll-up gives up after 3 s waiting for a lock, and tests of other
    /// collections, running alongside, hold the rollup tables locked on purpose for a few seconds: so again until granted.
    /// </summary>
    public static async Task<RollUpPass> RollUpAsync(TermRollups rollups, NpgsqlDataSource database, string clientId)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        while (true)
        {
            try
            {
                return await rollups.RollUpAsync(database, clientId, TermRollups.EveryRow, timeout.Token);
            }
            catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.LockNotAvailable && !timeout.IsCancellationRequested)
            {
                // Waited 3 s for the lock: ask again.
            }
        }
    }

    public static async Task WaitUntilAppliedAsync(IClusterClient cluster, string clientId, IReadOnlyDictionary<string, long> last)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var grain = cluster.GetGrain<IClientKpiGrain>(clientId);
        while (true)
        {
            var positions = await grain.GetPositions();
            if (positions.Count > 0 && positions.All(p => p.Sequence == last.GetValueOrDefault(p.ObjectModel)))
            {
                return;
            }

            await Task.Delay(100, timeout.Token);
        }
    }

    private static KpiDefinition Custom(string code, string formula) =>
        new(code, code, "A custom KPI of the query consistency tests.", formula, "", KpiDirection.HigherIsBetter, [], "custom", "custom");

    private static Dictionary<string, object?> Row(ObjectModelDefinition model, int index, long time, Random random)
    {
        var row = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var field in model.Fields)
        {
            if (field.Name == model.EventTimeField)
            {
                row[field.Name] = Timestamp(time);
            }
            else if (model.KeyFields.Contains(field.Name))
            {
                // Event rows are distinct objects; snapshot keys are few, so each is updated many times.
                row[field.Name] = model.Kind == ObjectKind.Snapshot ? $"k{random.Next(8)}" : $"{model.Code}-{index}";
            }
            else if (!field.Required && random.Next(100) < 15)
            {
                row[field.Name] = null;
            }
            else
            {
                row[field.Name] = field.Type switch
                {
                    // Quarters add up exactly in any order, so sums agree to the bit whatever order rows are folded in.
                    FieldType.Number => random.Next(0, 400) * 0.25,
                    FieldType.Integer => random.Next(0, 21),
                    FieldType.Boolean => random.Next(2) == 0,
                    FieldType.Timestamp => Timestamp(time + random.NextInt64(-3 * 86_400_000L, 3 * 86_400_000L)),
                    _ => TextValue(field, random),
                };
            }
        }

        SatisfyRowRules(row, model.EventTimeField, random);
        return row;
    }

    /// <summary>Keeps generated rows within the ingest's business rules (hours in a day, seats, an end after its start).</summary>
    private static void SatisfyRowRules(Dictionary<string, object?> row, string eventTimeField, Random random)
    {
        if (row.ContainsKey("hours") && row["hours"] is not null)
        {
            row["hours"] = random.Next(0, 97) * 0.25;
        }

        if (row.ContainsKey("seats_purchased"))
        {
            var purchased = random.Next(1, 21);
            row["seats_purchased"] = purchased;
            if (row.ContainsKey("seats_used") && row["seats_used"] is not null)
            {
                row["seats_used"] = random.Next(0, purchased + 1);
            }
        }

        foreach (var (end, start) in new[] { ("ended_at", "started_at"), ("completed_at", "created_at") })
        {
            if (row.GetValueOrDefault(end) is string endText && row.GetValueOrDefault(start) is string startText)
            {
                var endTime = DateTimeOffset.Parse(endText, CultureInfo.InvariantCulture).ToUnixTimeMilliseconds();
                var startTime = DateTimeOffset.Parse(startText, CultureInfo.InvariantCulture).ToUnixTimeMilliseconds();
                var gap = random.NextInt64(60_000, 2 * 86_400_000L);
                if (endTime <= startTime && end == eventTimeField)
                {
                    row[start] = Timestamp(endTime - gap);
                }
                else if (endTime <= startTime)
                {
                    row[end] = Timestamp(startTime + gap);
                }
            }
        }
    }

    private static string TextValue(FieldDefinition field, Random random)
    {
        // Values the description lists (e.g. 'open', 'shipped') make the catalog's filters match some rows.
        var listed = QuotedValue().Matches(field.Description).Select(m => m.Groups[1].Value).ToArray();
        return listed.Length > 0 && random.Next(10) > 0 ? listed[random.Next(listed.Length)] : $"v{random.Next(1, 5)}";
    }

    private static string Timestamp(long unixMilliseconds) =>
        DateTimeOffset.FromUnixTimeMilliseconds(unixMilliseconds).ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    [GeneratedRegex("'([A-Za-z_ ]{1,30})'")]
    private static partial Regex QuotedValue();
}

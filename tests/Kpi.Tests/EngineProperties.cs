using AnalyticsEngine.Ingest;
using AnalyticsEngine.Kpi.Engine;
using AnalyticsEngine.Kpi.Formula;
using CsCheck;
using NodaTime;

namespace AnalyticsEngine.Kpi.Tests;

/// <summary>
/// The incremental engine against the brute-force oracle, for random formulas and random event histories with
/// out-of-order and late rows, re-sent (duplicate) batches, snapshot updates, a checkpoint round trip and time zones
/// with daylight-saving changes inside the data.
/// </summary>
public class EngineProperties
{
    private static readonly (string Zone, DateTimeOffset Base)[] Scenarios =
    [
        ("America/New_York", new DateTimeOffset(2026, 6, 10, 10, 0, 0, TimeSpan.Zero)),
        ("America/New_York", new DateTimeOffset(2026, 3, 8, 5, 30, 0, TimeSpan.Zero)),   // 00:30 EST, clocks jump at 02:00
        ("America/New_York", new DateTimeOffset(2026, 11, 1, 4, 30, 0, TimeSpan.Zero)),  // 00:30 EDT, 01:00-02:00 happens twice
        ("Asia/Kolkata", new DateTimeOffset(2026, 3, 31, 17, 0, 0, TimeSpan.Zero)),       // +05:30, crosses a quarter start
        ("Australia/Lord_Howe", new DateTimeOffset(2026, 4, 4, 13, 45, 0, TimeSpan.Zero)), // half-hour fall-back at 02:00
    ];

    private static readonly (Granularity, int)[] Series = [(Granularity.Minute, 200), (Granularity.Hour, 6), (Granularity.Day, 3)];

    [Fact]
    public void Incremental_results_equal_brute_force_for_random_formulas_and_histories() =>
        Gen.Int[0, int.MaxValue].Sample(RunScenario, iter: 150);

    [Fact]
    public void Regression_seeds()
    {
        foreach (var seed in new[] { 12345, 961159005 })
        {
            RunScenario(seed);
        }
    }

    internal static void RunScenario(int seed)
    {
        var random = new RandomScenario(seed);
        var (zoneId, start) = Scenarios[random.Next(Scenarios.Length)];
        var zone = DateTimeZoneProviders.Tzdb[zoneId];
        var pool = Enumerable.Range(0, 4).Select(_ => CompilableAggregate(random)).ToList();
        var kpis = Enumerable.Range(0, 1 + random.Next(4))
            .Select(i => TestModels.Kpi($"k{i}", random.Formula(pool)))
            .Where(k => KpiFormula.Compile(k.Formula, TestModels.All).Succeeded)
            .ToList();
        var options = new KpiEngineOptions { AllowedLateness = TimeSpan.FromMinutes(5) };
        var engine = new ClientKpiEngine("c1", zone, kpis, TestModels.All, options);
        Assert.Empty(engine.Errors);

        // Rows per object with contiguous sequences and random event times (so arrival is out of order).
        var rows = new Dictionary<string, List<EventRow>>(StringComparer.Ordinal);
        foreach (var objectModel in new[] { "orders", "licenses", "invoices" })
        {
            var count = random.Next(40);
            // Snapshot rows on a coarse grid so that equal event times (ties broken by sequence) happen often.
            rows[objectModel] = Enumerable.Range(1, count)
                .Select(i => random.Row(objectModel, i, objectModel == "licenses" ? start.AddMinutes(5 * random.Next(36)) : start.AddSeconds(random.Next(180 * 60))))
                .ToList();
        }

        // What a dashboard would show: the series before any row arrived, overwritten by every published change.
        var lastNow = Instant.FromDateTimeOffset(start.AddMinutes(182));
        var dashboard = new Dictionary<(string Kpi, Granularity Granularity, DateTimeOffset Start), KpiValue>();
        foreach (var kpi in kpis)
        {
            foreach (var (granularity, count) in Series)
            {
                foreach (var value in engine.Snapshot(kpi.Code, granularity, count, lastNow).Recent)
                {
                    dashboard[(kpi.Code, granularity, value.BucketStart)] = value;
                }
            }
        }

        var drained = new Dictionary<(string Kpi, Granularity Granularity, DateTimeOffset Start), KpiValue>();
        var applied = rows.Keys.ToDictionary(k => k, _ => 0, StringComparer.Ordinal);
        var newest = start;
        var restoreAt = random.Next(12);
        for (var step = 0; applied.Any(a => a.Value < rows[a.Key].Count); step++)
        {
            var objectModel = random.Pick(applied.Where(a => a.Value < rows[a.Key].Count).Select(a => a.Key).ToList());
            var from = Math.Max(0, applied[objectModel] - (random.Chance(0.25) ? 1 + random.Next(4) : 0)); // re-send some rows
            var to = Math.Min(rows[objectModel].Count, applied[objectModel] + 1 + random.Next(8));
            var batch = rows[objectModel].GetRange(from, to - from);
            engine.Apply(objectModel, batch);
            Assert.Equal(to, engine.Position(objectModel));
            applied[objectModel] = to;
            newest = batch.Select(r => r.EventTime).Append(newest).Max();

            var now = Instant.Min(lastNow, Instant.FromDateTimeOffset(newest.AddMinutes(1)));
            if (random.Chance(0.5))
            {
                engine.AdvanceTime(now);
            }

            var changes = new List<KpiValue>();
            engine.DrainChanges(_ => true, changes, now);
            foreach (var change in changes)
            {
                drained[(change.KpiCode, change.Granularity, change.BucketStart)] = change;
                dashboard[(change.KpiCode, change.Granularity, change.BucketStart)] = change;
            }

            if (step == restoreAt)
            {
                engine = ClientKpiEngine.Restore(Checkpoints.RoundTrip(engine.Export()), "c1", zone, kpis, TestModels.All, options);
            }
        }

        // The clock reaches the end of the series: buckets entered since the last rows are published too.
        engine.AdvanceTime(lastNow);
        var last = new List<KpiValue>();
        engine.DrainChanges(_ => true, last, lastNow);
        foreach (var change in last)
        {
            drained[(change.KpiCode, change.Granularity, change.BucketStart)] = change;
            dashboard[(change.KpiCode, change.Granularity, change.BucketStart)] = change;
        }

        var oracle = new BruteForce(TestModels.All, rows);
        var finalNow = lastNow;
        var seen = new HashSet<(string, Granularity, DateTimeOffset)>();
        foreach (var kpi in kpis)
        {
            var syntax = KpiFormula.Compile(kpi.Formula, TestModels.All).Formula!.Syntax;
            foreach (var (granularity, count) in Series)
            {
                var snapshot = engine.Snapshot(kpi.Code, granularity, count, finalNow);
                Assert.Equal(count, snapshot.Recent.Count);
                Assert.Equal(snapshot.Current, snapshot.Recent[^1]);
                Assert.True(snapshot.Current!.BucketStart <= finalNow.ToDateTimeOffset() && finalNow.ToDateTimeOffset() < snapshot.Current.BucketEnd);
                for (var i = 0; i < snapshot.Recent.Count; i++)
                {
                    var value = snapshot.Recent[i];
                    if (i > 0)
                    {
                        Assert.Equal(snapshot.Recent[i - 1].BucketEnd, value.BucketStart); // buckets tile time
                    }

                    AssertBucketIsOneLocalUnit(zone, granularity, value);
                    var expected = oracle.Evaluate(syntax, value.BucketStart, value.BucketEnd);
                    AssertSame(expected, value, $"seed {seed}, {kpi.Formula}, {granularity} {value.BucketStart:O}");
                    AssertSame(expected, dashboard[(kpi.Code, granularity, value.BucketStart)], $"seed {seed}: dashboard view of {kpi.Formula}, {granularity} {value.BucketStart:O}");
                    if (expected.EventCount > 0)
                    {
                        var key = (kpi.Code, granularity, value.BucketStart);
                        Assert.True(drained.TryGetValue(key, out var published), $"seed {seed}: bucket {key} with rows was never published");
                        AssertSame(expected, published, $"seed {seed}, last published {key} of {kpi.Formula}");
                        seen.Add(key);
                    }
                }
            }

            foreach (var window in new[]
            {
                KpiWindow.LastMinutes(1 + random.Next(120)), KpiWindow.LastHours(1 + random.Next(4)), KpiWindow.LastDays(2),
                KpiWindow.DayToDate, KpiWindow.WeekToDate, KpiWindow.MonthToDate, KpiWindow.QuarterToDate, KpiWindow.YearToDate,
            })
            {
                var value = engine.Window(kpi.Code, window, finalNow);
                AssertWindowBounds(zone, window, finalNow, value, engine, kpi.Code);
                AssertSame(oracle.Evaluate(syntax, value.BucketStart, value.BucketEnd), value, $"seed {seed}, {kpi.Formula}, {window}");
            }
        }

        // Everything published that the oracle can check must match it too (carried snapshot buckets included).
        foreach (var ((code, granularity, bucketStart), published) in drained)
        {
            var syntax = KpiFormula.Compile(kpis.First(k => k.Code == code).Formula, TestModels.All).Formula!.Syntax;
            AssertSame(oracle.Evaluate(syntax, bucketStart, published.BucketEnd), published, $"seed {seed}, published {code} {granularity} {bucketStart:O}");
        }
    }

    private static string CompilableAggregate(RandomScenario random)
    {
        while (true)
        {
            var aggregate = random.Aggregate();
            if (KpiFormula.Compile(aggregate, TestModels.All).Succeeded)
            {
                return aggregate;
            }
        }
    }

    internal static void AssertSame((double? Value, long EventCount) expected, KpiValue actual, string context)
    {
        Assert.True(expected.EventCount == actual.EventCount, $"{context}: event count {actual.EventCount}, expected {expected.EventCount}");
        if (expected.Value is null)
        {
            Assert.True(actual.Value is null, $"{context}: value {actual.Value}, expected none");
            Assert.False(string.IsNullOrEmpty(actual.NoValueReason), $"{context}: no reason given");
            return;
        }

        Assert.True(actual.Value is not null, $"{context}: no value ({actual.NoValueReason}), expected {expected.Value}");
        var tolerance = 1e-9 * Math.Max(1, Math.Abs(expected.Value.Value));
        Assert.True(Math.Abs(expected.Value.Value - actual.Value!.Value) <= tolerance, $"{context}: value {actual.Value}, expected {expected.Value}");
        Assert.True(double.IsFinite(actual.Value.Value));
    }

    private static void AssertBucketIsOneLocalUnit(DateTimeZone zone, Granularity granularity, KpiValue value)
    {
        var start = Instant.FromDateTimeOffset(value.BucketStart).InZone(zone);
        var end = Instant.FromDateTimeOffset(value.BucketEnd).InZone(zone);
        switch (granularity)
        {
            case Granularity.Minute:
                Assert.Equal(TimeSpan.FromMinutes(1), value.BucketEnd - value.BucketStart);
                Assert.Equal(0, start.Second);
                break;
            case Granularity.Hour:
                Assert.True(value.BucketEnd - value.BucketStart <= TimeSpan.FromHours(1));
                Assert.Equal((0, 0), (start.Second, end.Second));
                break;
            default:
                Assert.Equal(zone.AtStartOfDay(start.Date), start);
                Assert.Equal(zone.AtStartOfDay(start.Date.PlusDays(1)), end);
                break;
        }
    }

    private static void AssertWindowBounds(DateTimeZone zone, KpiWindow window, Instant now, KpiValue value, ClientKpiEngine engine, string code)
    {
        var today = now.InZone(zone).Date;
        var expectedStart = window.Kind switch
        {
            KpiWindowKind.LastMinutes or KpiWindowKind.LastHours or KpiWindowKind.LastDays =>
                engine.Snapshot(code, window.Granularity, window.Count, now).Recent[0].BucketStart,
            KpiWindowKind.DayToDate => zone.AtStartOfDay(today).ToDateTimeOffset(),
            KpiWindowKind.WeekToDate => zone.AtStartOfDay(today.PlusDays(1 - (int)today.DayOfWeek)).ToDateTimeOffset(),
            KpiWindowKind.MonthToDate => zone.AtStartOfDay(new LocalDate(today.Year, today.Month, 1)).ToDateTimeOffset(),
            KpiWindowKind.QuarterToDate => zone.AtStartOfDay(new LocalDate(today.Year, ((today.Month - 1) / 3 * 3) + 1, 1)).ToDateTimeOffset(),
            _ => zone.AtStartOfDay(new LocalDate(today.Year, 1, 1)).ToDateTimeOffset(),
        };
        Assert.Equal(expectedStart.UtcDateTime, value.BucketStart.UtcDateTime);
        Assert.Equal(engine.Snapshot(code, window.Granularity, 1, now).Current!.BucketEnd, value.BucketEnd);
    }
}

using System.Globalization;
using AnalyticsEngine.Ingest;

namespace AnalyticsEngine.Kpi.Tests;

/// <summary>
/// Draws random formulas from the grammar and random rows (nulls, out-of-order times, snapshot updates) from a seed,
/// so a failing property names one seed that reproduces it.
/// </summary>
internal sealed class RandomScenario(int seed)
{
    private static readonly string[] Objects = ["orders", "licenses", "invoices"];

    private static readonly Dictionary<string, (string[] Numbers, string[] Booleans, string[] Texts, string[] Timestamps)> Fields = new()
    {
        ["orders"] = (["value", "quantity"], ["on_time", "in_full"], ["status", "customer"], ["promised_at", "delivered_at", "ordered_at"]),
        ["licenses"] = (["seats_purchased", "seats_used", "price"], ["active"], ["product", "license_id"], ["observed_at"]),
        ["invoices"] = (["amount"], [], ["status", "invoice_id"], ["issued_at"]),
    };

    private static readonly string[] TextValues = ["Paid", "Pending", "Void", "a", "b"];

    private readonly Random _random = new(seed);

    public int Next(int max) => _random.Next(max);

    public bool Chance(double probability) => _random.NextDouble() < probability;

    public T Pick<T>(IReadOnlyList<T> items) => items[_random.Next(items.Count)];

    // ---- formulas ----

    public string Formula(IReadOnlyList<string> aggregatePool, int depth = 0)
    {
        var roll = Next(depth >= 3 ? 3 : 10);
        return roll switch
        {
            0 or 1 => Pick(aggregatePool),
            2 => Literal(),
            3 or 4 => $"{Formula(aggregatePool, depth + 1)} {Pick(["+", "-", "*", "/"])} {Formula(aggregatePool, depth + 1)}",
            5 => $"-({Formula(aggregatePool, depth + 1)})",
            6 => $"round({Formula(aggregatePool, depth + 1)}, {Next(3)})",
            7 => $"abs({Formula(aggregatePool, depth + 1)})",
            8 => $"coalesce({Formula(aggregatePool, depth + 1)}, {Literal()})",
            _ => $"{Pick(["least", "greatest"])}({Formula(aggregatePool, depth + 1)}, {Formula(aggregatePool, depth + 1)})",
        };
    }

    public string Aggregate()
    {
        var o = Pick(Objects);
        var f = Fields[o];
        var body = Next(8) switch
        {
            0 => $"count({o})",
            1 => $"count({Pick([.. f.Texts, .. f.Numbers])})".Replace("count(", $"count({o}.", StringComparison.Ordinal),
            2 => $"count_distinct({o}.{Pick([.. f.Texts, .. f.Numbers, .. f.Booleans, .. f.Timestamps])})",
            3 => $"sum({Number(o, 0)})",
            4 => $"avg({Number(o, 0)})",
            5 => $"min({(Chance(0.3) ? $"{o}.{Pick(f.Timestamps)}" : Number(o, 0))})",
            6 => $"max({(Chance(0.3) ? $"{o}.{Pick(f.Timestamps)}" : Number(o, 0))})",
            _ => $"count_distinct({Number(o, 0)})",
        };
        return Chance(0.5) ? $"{body} filter (where {Predicate(o, 0)})" : body;
    }

    private string Literal() => Pick(["0", "1", "2", "0.5", "10", "3"]);

    private string Number(string o, int depth)
    {
        var f = Fields[o];
        var roll = Next(depth >= 2 ? 2 : 9);
        return roll switch
        {
            0 => $"{o}.{Pick(f.Numbers)}",
            1 => Chance(0.7) ? $"{o}.{Pick(f.Numbers)}" : Literal(),
            // No row-level '/': sums of inexact quotients depend on summation order, which buckets change on purpose.
            // Values stay dyadic (exact in binary), so incremental and brute-force sums agree to the last bit.
            2 => $"({Number(o, depth + 1)} {Pick(["+", "-", "*"])} {Number(o, depth + 1)})",
            3 => $"-{Number(o, depth + 1)}",
            4 => $"abs({Number(o, depth + 1)})",
            5 => $"coalesce({Number(o, depth + 1)}, {Literal()})",
            6 => $"{Pick(["least", "greatest"])}({Number(o, depth + 1)}, {Number(o, depth + 1)})",
            7 => $"round({Number(o, depth + 1)} / 2)",
            _ => f.Timestamps.Length > 1 ? $"({o}.{f.Timestamps[0]} - {o}.{f.Timestamps[1]}) / 60000" : $"{o}.{Pick(f.Numbers)}",
        };
    }

    private string Predicate(string o, int depth)
    {
        var f = Fields[o];
        var roll = Next(depth >= 2 ? 6 : 9);
        return roll switch
        {
            0 => $"{Number(o, 1)} {Pick(["=", "!=", "<>", "<", "<=", ">", ">="])} {Number(o, 1)}",
            1 => $"{o}.{Pick(f.Texts)} {Pick(["=", "!=", "<", ">="])} '{Pick(TextValues)}'",
            2 => $"{o}.{Pick(f.Texts)} {(Chance(0.3) ? "not in" : "in")} ('{Pick(TextValues)}', '{Pick(TextValues)}')",
            3 => $"{o}.{Pick([.. f.Numbers, .. f.Texts, .. f.Timestamps])} is {(Chance(0.5) ? "not " : string.Empty)}null",
            4 => f.Booleans.Length > 0 ? $"{o}.{Pick(f.Booleans)}" : $"{o}.{Pick(f.Numbers)} in (0, 1, 2)",
            5 => f.Timestamps.Length > 1 ? $"{o}.{f.Timestamps[1]} <= {o}.{f.Timestamps[0]}" : "true",
            6 => $"not ({Predicate(o, depth + 1)})",
            _ => $"({Predicate(o, depth + 1)}) {Pick(["and", "or"])} ({Predicate(o, depth + 1)})",
        };
    }

    // ---- rows ----

    public EventRow Row(string objectModel, long sequence, DateTimeOffset eventTime)
    {
        var layout = TestModels.LayoutOf(objectModel);
        var values = new Dictionary<string, object?>(StringComparer.Ordinal);
        var f = Fields[objectModel];
        foreach (var name in f.Numbers)
        {
            values[name] = Chance(0.15) ? null : Pick([0.0, 1, 2, 2.5, -4, 10, 3]);
        }

        foreach (var name in f.Booleans)
        {
            values[name] = Chance(0.15) ? null : Chance(0.5);
        }

        foreach (var name in f.Texts)
        {
            values[name] = Chance(0.15) ? null : Pick(TextValues);
        }

        foreach (var name in f.Timestamps)
        {
            values[name] = Chance(0.15) ? null : eventTime.AddMinutes(Next(120) - 60);
        }

        values[TestModels.All[objectModel].EventTimeField] = eventTime;
        if (objectModel == "licenses")
        {
            values["license_id"] = "L" + Next(4).ToString(CultureInfo.InvariantCulture); // a few keys, so updates replace
        }

        return layout.CreateRow(sequence, eventTime, values);
    }
}

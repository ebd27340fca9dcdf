using AnalyticsEngine.Catalog;

namespace AnalyticsEngine.Ingest;

/// <summary>
/// Business rules a row must satisfy beyond its field types (from the MSP and time-tracking
/// specifications: hours within a day, non-negative money, seats used within seats purchased, an end
/// after its start). Rules name fields, so an object model without such a field simply has no such rule.
/// </summary>
public sealed class RowRules
{
    private readonly List<Func<double[], (string Field, string Reason)?>> _checks = [];

    private RowRules()
    {
    }

    public static RowRules For(EventRowLayout layout)
    {
        var rules = new RowRules();
        rules.Range(layout, "hours", 0, 24);
        foreach (var field in new[] { "rate", "amount", "cost_per_seat", "estimated_hours", "tracked_hours", "order_value", "seats_used" })
        {
            rules.Range(layout, field, 0, double.MaxValue);
        }

        rules.Range(layout, "seats_purchased", 1, double.MaxValue);
        rules.NotAbove(layout, "seats_used", "seats_purchased");
        rules.After(layout, "ended_at", "started_at");
        rules.After(layout, "completed_at", "created_at", orEqual: true);
        return rules;
    }

    public void Check(double[] numbers, Action<string?, string> fail)
    {
        foreach (var check in _checks)
        {
            if (check(numbers) is { } problem)
            {
                fail(problem.Field, problem.Reason);
            }
        }
    }

    private void Range(EventRowLayout layout, string field, double min, double max)
    {
        if (!TryNumberSlot(layout, field, out var index))
        {
            return;
        }

        var text = max == double.MaxValue ? $"must be at least {min}" : $"must be between {min} and {max}";
        _checks.Add(n => double.IsNaN(n[index]) || (n[index] >= min && n[index] <= max) ? null : (field, $"{text}, not {n[index]}"));
    }

    private void NotAbove(EventRowLayout layout, string field, string limit)
    {
        if (TryNumberSlot(layout, field, out var index) && TryNumberSlot(layout, limit, out var limitIndex))
        {
            _checks.Add(n => double.IsNaN(n[index]) || double.IsNaN(n[limitIndex]) || n[index] <= n[limitIndex]
                ? null
                : (field, $"must not exceed {limit} ({n[index]} > {n[limitIndex]})"));
        }
    }

    private void After(EventRowLayout layout, string end, string start, bool orEqual = false)
    {
        if (TryNumberSlot(layout, end, out var endIndex) && TryNumberSlot(layout, start, out var startIndex))
        {
            _checks.Add(n => double.IsNaN(n[endIndex]) || double.IsNaN(n[startIndex]) || n[endIndex] > n[startIndex] || (orEqual && n[endIndex] == n[startIndex])
                ? null
                : (end, $"must be after {start}"));
        }
    }

    private static bool TryNumberSlot(EventRowLayout layout, string field, out int index)
    {
        index = -1;
        if (layout.TryGetSlot(field, out var slot) && !slot.IsText && slot.Field.Type != FieldType.Boolean)
        {
            index = slot.Index;
            return true;
        }

        return false;
    }
}

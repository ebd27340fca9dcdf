namespace AnalyticsEngine.Kpi.Engine;

/// <summary>The per-row updates of a bucket part's accumulators; a null part (bucket past retention) is skipped.</summary>
internal static class PartState
{
    public static void AddSum(BucketPart? part, int slot, double value)
    {
        if (part is null)
        {
            return;
        }

        var numbers = part.Numbers;
        numbers[slot] += value;
        numbers[slot + 1] += 1;
    }

    public static void AddMin(BucketPart? part, int slot, double value)
    {
        if (part is null || double.IsNaN(value))
        {
            return;
        }

        ref var current = ref part.Numbers[slot];
        if (double.IsNaN(current) || value < current)
        {
            current = value;
        }
    }

    public static void AddMax(BucketPart? part, int slot, double value)
    {
        if (part is null || double.IsNaN(value))
        {
            return;
        }

        ref var current = ref part.Numbers[slot];
        if (double.IsNaN(current) || value > current)
        {
            current = value;
        }
    }

    public static void AddDistinct(BucketPart? part, int slot, double value)
    {
        if (part is null)
        {
            return;
        }

        var set = (HashSet<double>?)part.Sets[slot];
        if (set is null)
        {
            set = [];
            part.Sets[slot] = set;
        }

        set.Add(value);
    }

    public static void AddDistinct(BucketPart? part, int slot, string value)
    {
        if (part is null)
        {
            return;
        }

        var set = (HashSet<string>?)part.Sets[slot];
        if (set is null)
        {
            set = new HashSet<string>(StringComparer.Ordinal);
            part.Sets[slot] = set;
        }

        set.Add(value);
    }
}

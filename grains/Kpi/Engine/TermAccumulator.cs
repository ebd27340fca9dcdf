using AnalyticsEngine.Ingest;
using AnalyticsEngine.Kpi.Formula;

namespace AnalyticsEngine.Kpi.Engine;

/// <summary>
/// A scratch partial state used when reading: merges bucket parts (event objects) or folds chosen rows
/// (snapshot objects), then answers the aggregate function.
/// </summary>
internal sealed class TermAccumulator
{
    private readonly HashSet<double> _numbers = [];
    private readonly HashSet<string> _texts = new(StringComparer.Ordinal);
    private double _sum;
    private double _count;
    private double _min;
    private double _max;

    public void Reset()
    {
        _sum = 0;
        _count = 0;
        _min = double.NaN;
        _max = double.NaN;
        _numbers.Clear();
        _texts.Clear();
    }

    public void Merge(EngineTerm term, BucketPart part)
    {
        switch (term.Kind)
        {
            case TermStateKind.SumCount:
                _sum += part.Numbers[term.Slot];
                _count += part.Numbers[term.Slot + 1];
                break;
            case TermStateKind.Min:
                AddMin(part.Numbers[term.Slot]);
                break;
            case TermStateKind.Max:
                AddMax(part.Numbers[term.Slot]);
                break;
            case TermStateKind.DistinctNumbers when part.Sets[term.Slot] is HashSet<double> numbers:
                _numbers.UnionWith(numbers);
                break;
            case TermStateKind.DistinctTexts when part.Sets[term.Slot] is HashSet<string> texts:
                _texts.UnionWith(texts);
                break;
        }
    }

    public void Fold(EngineTerm term, EventRow row)
    {
        if (term.Filter is not null && term.Filter.Test(row) != Truth.True)
        {
            return;
        }

        if (term.Kind == TermStateKind.DistinctTexts)
        {
            if (term.Text!.Evaluate(row) is { } text)
            {
                _texts.Add(text);
            }

            return;
        }

        var value = term.Number!.Evaluate(row);
        if (double.IsNaN(value))
        {
            return;
        }

        switch (term.Kind)
        {
            case TermStateKind.SumCount:
                _sum += value;
                _count++;
                break;
            case TermStateKind.Min:
                AddMin(value);
                break;
            case TermStateKind.Max:
                AddMax(value);
                break;
            default:
                _numbers.Add(value);
                break;
        }
    }

    /// <summary>The aggregate's value; NaN when it has none (sum/avg/min/max over no values).</summary>
    public double Result(AggregateFunction function) => function switch
    {
        AggregateFunction.Sum => _count > 0 ? _sum : double.NaN,
        AggregateFunction.Avg => _count > 0 ? _sum / _count : double.NaN,
        AggregateFunction.Count => _count,
        AggregateFunction.Min => _min,
        AggregateFunction.Max => _max,
        _ => _numbers.Count + _texts.Count,
    };

    private void AddMin(double value)
    {
        if (!double.IsNaN(value) && (double.IsNaN(_min) || value < _min))
        {
            _min = value;
        }
    }

    private void AddMax(double value)
    {
        if (!double.IsNaN(value) && (double.IsNaN(_max) || value > _max))
        {
            _max = value;
        }
    }
}

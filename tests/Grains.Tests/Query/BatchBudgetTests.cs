using AnalyticsEngine.Kpi;
using AnalyticsEngine.Query;

namespace AnalyticsEngine.Grains.Tests.Query;

/// <summary>When a batch stops starting queries: past its points or its time, with the reason as the query's answer.</summary>
public sealed class BatchBudgetTests
{
    private static readonly DateTimeOffset From = new(2026, 11, 2, 0, 0, 0, TimeSpan.Zero);

    private static KpiQuery Query(string kpi) => new("c", kpi, From, From.AddDays(1), QueryGranularity.Hour);

    private static KpiQueryResult Answer(string kpi, int points) => new("c", kpi, QueryGranularity.Hour, From, From.AddDays(1), null,
        [new KpiSeries(null, [.. Enumerable.Range(0, points).Select(i => new KpiValue("c", kpi, Granularity.Hour, From.AddHours(i), From.AddHours(i + 1),
            1, null, [], 0, true, null, [], 1))])], null);

    [Fact]
    public void A_batch_starts_queries_until_its_answers_reach_the_most_points_then_says_how_many_they_hold()
    {
        var budget = new BatchBudget(new KpiQueryOptions { MaxBatchPoints = 100 }, "too many");

        Assert.Null(budget.Refusal(Query("A")));
        budget.Spend(Answer("A", 60));
        Assert.Null(budget.Refusal(Query("B")));
        budget.Spend(Answer("B", 60));

        var refused = budget.Refusal(Query("C"));
        Assert.Equal((QueryErrorKind.TooManyPoints, "C"), (refused?.Error?.Kind, refused?.KpiCode));
        Assert.StartsWith("Not started: the batch's answers already hold 120 points, and a batch may hold 100", refused!.Error!.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_batch_starts_its_first_queries_up_to_the_most_and_answers_each_after_them_as_told()
    {
        var budget = new BatchBudget(new KpiQueryOptions { MaxBatch = 2 }, "A dashboard answers at most 2 KPIs.");

        Assert.Null(budget.Refusal(Query("A")));
        Assert.Null(budget.Refusal(Query("B")));
        var refused = new[] { budget.Refusal(Query("C")), budget.Refusal(Query("D")) };

        Assert.All(refused, r => Assert.Equal((QueryErrorKind.TooManyQueries, "A dashboard answers at most 2 KPIs."), (r?.Error?.Kind, r?.Error?.Message)));
        Assert.Equal(["C", "D"], refused.Select(r => r!.KpiCode));
    }

    [Fact]
    public void A_batch_past_its_time_starts_no_query()
    {
        var budget = new BatchBudget(new KpiQueryOptions { BatchTimeout = TimeSpan.Zero }, "too many");

        var refused = budget.Refusal(Query("A"));

        Assert.Equal(QueryErrorKind.Timeout, refused?.Error?.Kind);
        Assert.StartsWith("Not started: the batch had run for 0 s", refused!.Error!.Message, StringComparison.Ordinal);
    }
}

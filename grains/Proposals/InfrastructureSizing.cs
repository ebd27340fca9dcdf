namespace AnalyticsEngine.Proposals;

/// <summary>
/// The infrastructure estimate: instances per tier, the active database and archives as the retention keeps the daily
/// ingest, Redis, and data transfer, at the price list's monthly rates.
/// </summary>
/// <remarks>
/// Sizing rules: a gateway per 5,000 concurrent users, at least two (one gateway holds 10,000 dashboard connections in
/// the fan-out benchmark; half of that leaves room for one to fail); the business and backend tiers three services
/// each, with a replica per 50 GB of daily ingest, at least two. The refresh period does not change the size: KPIs are
/// computed as rows arrive whatever period the dashboards show.
/// </remarks>
internal static class InfrastructureSizing
{
    public const int UsersPerGateway = 5_000;
    public const decimal DailyIngestGbPerReplica = 50m;
    public const int ServicesPerTier = 3;
    public const int MinimumReplicas = 2;

    public static int Gateways(int concurrentUsers) =>
        Math.Max(MinimumReplicas, (int)Math.Ceiling(concurrentUsers / (decimal)UsersPerGateway));

    public static int ServiceInstances(decimal dailyIngestGb) =>
        ServicesPerTier * Math.Max(MinimumReplicas, (int)Math.Ceiling(dailyIngestGb / DailyIngestGbPerReplica));

    /// <summary>
    /// The estimate for <paramref name="answers"/>: archives kept indefinitely count what has left the active database by
    /// the end of the license term; data transfer is 30 days of ingest when not given.
    /// </summary>
    public static InfrastructureEstimate Estimate(InfrastructureAnswers answers, RetentionPlan stagedSourceData, int termYears, PriceList prices)
    {
        ComputeLine Tier(string tier, string instanceType, decimal monthly, int count) =>
            new(tier, instanceType, count, monthly, PriceList.Cents(count * monthly));

        IReadOnlyList<ComputeLine> compute =
        [
            Tier("API gateway", prices.ApiGatewayInstanceType, prices.ApiGatewayMonthly, answers.Instances?.ApiGateway ?? Gateways(answers.ConcurrentUsers)),
            Tier("Business services", prices.BusinessServicesInstanceType, prices.BusinessServicesMonthly, answers.Instances?.BusinessServices ?? ServiceInstances(answers.DailyIngestGb)),
            Tier("Backend services", prices.BackendServicesInstanceType, prices.BackendServicesMonthly, answers.Instances?.BackendServices ?? ServiceInstances(answers.DailyIngestGb)),
        ];

        // Kept for good: what has left the active database by the end of the license term.
        var archivedDays = stagedSourceData.Archive
            ? stagedSourceData.ArchiveDays ?? Math.Max(0, termYears * RetentionRules.DaysPerYear - stagedSourceData.ActiveDays)
            : 0;
        var active = Volume(answers.DailyIngestGb * stagedSourceData.ActiveDays, prices.HotStoragePerGbMonth);
        var archived = Volume(answers.DailyIngestGb * archivedDays, prices.ColdStoragePerGbMonth);
        var storage = new StorageEstimate(active, archived, prices.RedisInstanceType, prices.RedisMonthly,
            active.Monthly + archived.Monthly + prices.RedisMonthly);
        var network = Volume(answers.MonthlyDataTransferGb ?? answers.DailyIngestGb * 30, prices.DataTransferPerGb);

        var computeMonthly = compute.Sum(c => c.Monthly);
        var monthly = computeMonthly + storage.Monthly + network.Monthly;
        return new InfrastructureEstimate(
            compute, computeMonthly, storage, network, monthly, monthly * 12, answers.RefreshPeriod, answers.ConcurrentUsers, answers.DailyIngestGb);
    }

    /// <summary>Gigabytes (to the hundredth) at a monthly rate; the cost is of the gigabytes shown.</summary>
    private static VolumeLine Volume(decimal gb, decimal monthlyPerGb)
    {
        var shown = Math.Round(gb, 2, MidpointRounding.AwayFromZero);
        return new VolumeLine(shown, monthlyPerGb, PriceList.Cents(shown * monthlyPerGb));
    }

    /// <summary>The problems with the infrastructure answers ("infrastructure.…: …").</summary>
    public static IEnumerable<string> Problems(InfrastructureAnswers? answers)
    {
        if (answers is null)
        {
            yield return "infrastructure: is required: give dailyIngestGb and concurrentUsers at least";
            yield break;
        }

        if (answers.DailyIngestGb is <= 0 or > 1_000_000)
        {
            yield return "infrastructure.dailyIngestGb: give the GB of source data a day, more than 0 and at most 1,000,000";
        }

        if (answers.ConcurrentUsers is < 1 or > 10_000_000)
        {
            yield return "infrastructure.concurrentUsers: give 1 to 10,000,000 users";
        }

        if (!Enum.IsDefined(answers.RefreshPeriod))
        {
            yield return "infrastructure.refreshPeriod: give minute, hour or day";
        }

        if (answers.MonthlyDataTransferGb is < 0 or > 1_000_000_000)
        {
            yield return "infrastructure.monthlyDataTransferGb: give 0 to 1,000,000,000 GB a month";
        }

        foreach (var (name, count) in new[]
        {
            ("apiGateway", answers.Instances?.ApiGateway),
            ("businessServices", answers.Instances?.BusinessServices),
            ("backendServices", answers.Instances?.BackendServices),
        })
        {
            if (count is < 1 or > 10_000)
            {
                yield return $"infrastructure.instances.{name}: give 1 to 10,000 instances";
            }
        }
    }
}

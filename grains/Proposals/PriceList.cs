namespace AnalyticsEngine.Proposals;

/// <summary>A fixed-price item: the developer hours it takes (for the schedule) and what the client pays.</summary>
internal sealed record FixedPrice(decimal Hours, decimal Price);

/// <summary>
/// The price list of service proposals, in US dollars: the standard list unless the silo's configuration
/// (<c>Proposals:Prices</c>) changes some of it, so prices change without a release. Fixed-price work is priced per
/// item and done by the integration developer; time-and-materials work (a legacy API, hierarchical access, setting up a
/// platform) is done by an architect at <see cref="ArchitectHourlyRate"/> and estimated as a range of hours. The hours
/// each item takes are the engagement's planning, not prices, and stay as they are.
/// </summary>
public sealed class PriceList
{
    public static PriceList Standard { get; } = new();

    public const string Currency = "USD";

    /// <summary>Days a proposal's prices hold.</summary>
    public const int ValidDays = 30;

    /// <summary>Hours a week the integration developer spends on one engagement, which sets how long its phases last.</summary>
    public const decimal DeveloperHoursPerWeek = 20m;

    /// <summary>Hours a week an architect spends setting up a platform.</summary>
    public const decimal ArchitectHoursPerWeek = 40m;

    public decimal ArchitectHourlyRate { get; set; } = 175m;

    /// <summary>Annual license per value chain, by term in years: longer terms cost less a year.</summary>
    public Dictionary<int, decimal> AnnualLicensePerChain { get; set; } = new() { [1] = 35_000m, [3] = 32_500m, [5] = 30_000m };

    /// <summary>The fixed-price integration methods' prices.</summary>
    public Dictionary<IntegrationMethod, decimal> IntegrationPrices { get; set; } = new()
    {
        [IntegrationMethod.BatchConformed] = 1_500m,
        [IntegrationMethod.BatchNonConformedSingleSource] = 2_500m,
        [IntegrationMethod.BatchNonConformedMultiSource] = 3_500m,
        [IntegrationMethod.BatchEntityResolution] = 3_500m,
        [IntegrationMethod.StreamingApiArchitected] = 2_500m,
    };

    /// <summary>The fixed-price KPI complexities' prices.</summary>
    public Dictionary<KpiComplexity, decimal> KpiPrices { get; set; } = new()
    {
        [KpiComplexity.Otb] = 50m,
        [KpiComplexity.CustomBasic] = 50m,
        [KpiComplexity.Rbac] = 100m,
    };

    public string ApiGatewayInstanceType { get; set; } = "t3.medium";

    public decimal ApiGatewayMonthly { get; set; } = 50m;

    public string BusinessServicesInstanceType { get; set; } = "t3.large";

    public decimal BusinessServicesMonthly { get; set; } = 100m;

    public string BackendServicesInstanceType { get; set; } = "t3.xlarge";

    public decimal BackendServicesMonthly { get; set; } = 150m;

    /// <summary>The active database, per GB and month.</summary>
    public decimal HotStoragePerGbMonth { get; set; } = 0.10m;

    /// <summary>Archives in cold storage, per GB and month.</summary>
    public decimal ColdStoragePerGbMonth { get; set; } = 0.01m;

    public string RedisInstanceType { get; set; } = "cache.m5.large";

    public decimal RedisMonthly { get; set; } = 100m;

    public decimal DataTransferPerGb { get; set; } = 0.09m;

    public decimal SupportRetainer { get; set; } = 5_000m;

    /// <summary>Hours the retainer covers.</summary>
    public decimal SupportRetainerHours { get; set; } = 66.67m;

    public decimal SupportHourlyRate { get; set; } = 75m;

    /// <summary>The license terms offered, shortest first.</summary>
    public IReadOnlyList<(int Years, decimal AnnualPerChain)> LicenseTerms =>
        [.. AnnualLicensePerChain.OrderBy(t => t.Key).Select(t => (t.Key, t.Value))];

    public decimal? AnnualLicenseFor(int years) => AnnualLicensePerChain.TryGetValue(years, out var price) ? price : null;

    /// <summary>A term's saving against the shortest term's price, in whole percent (7 for three years, 14 for five).</summary>
    public decimal DiscountPercent(decimal annualPerChain) =>
        Math.Round(100m * (1m - annualPerChain / LicenseTerms[0].AnnualPerChain), 0, MidpointRounding.AwayFromZero);

    /// <summary>The fixed price of an integration method; null for time and materials.</summary>
    internal FixedPrice? Integration(IntegrationMethod method) =>
        IntegrationHours(method) is { } hours && IntegrationPrices.TryGetValue(method, out var price) ? new(hours, price) : null;

    /// <summary>The fixed price of implementing a KPI; null for time and materials.</summary>
    internal FixedPrice? Kpi(KpiComplexity complexity) =>
        KpiHours(complexity) is { } hours && KpiPrices.TryGetValue(complexity, out var price) ? new(hours, price) : null;

    private static decimal? IntegrationHours(IntegrationMethod method) => method switch
    {
        IntegrationMethod.BatchConformed => 15m,
        IntegrationMethod.BatchNonConformedSingleSource => 20m,
        IntegrationMethod.BatchNonConformedMultiSource => 30m,
        IntegrationMethod.BatchEntityResolution => 30m,
        IntegrationMethod.StreamingApiArchitected => 20m,
        _ => null,
    };

    private static decimal? KpiHours(KpiComplexity complexity) => complexity switch
    {
        KpiComplexity.Otb or KpiComplexity.CustomBasic => 0.5m,
        KpiComplexity.Rbac => 1m,
        _ => null,
    };

    /// <summary>The hours a legacy API's integration takes when the answers do not say.</summary>
    public static HoursEstimate NonArchitectedApiHours { get; } = new(40m, 60m);

    /// <summary>The hours a KPI with hierarchical access takes when the answers do not say.</summary>
    public static HoursEstimate DynamicRbacHours { get; } = new(20m, 30m);

    /// <summary>A cloud architect's hours to set up a platform: 40 to 80 by complexity, 60 when the answers do not say.</summary>
    public static HoursEstimate PlatformSetupHours { get; } = new(40m, 80m);

    public const decimal DefaultPlatformSetupHours = 60m;

    /// <summary>Rounds an amount to the cent, halves away from zero, as invoices do.</summary>
    public static decimal Cents(decimal amount) => Math.Round(amount, 2, MidpointRounding.AwayFromZero);

    /// <summary>What is wrong with a configured list: a price below zero, no license term, a time-and-materials item priced.</summary>
    public IEnumerable<string> Problems()
    {
        if (AnnualLicensePerChain.Count == 0 || AnnualLicensePerChain.Any(t => t.Key < 1 || t.Value <= 0))
        {
            yield return "Proposals:Prices:AnnualLicensePerChain needs at least one term of 1 year or more, each priced above 0.";
        }

        if (IntegrationPrices.Keys.Any(m => IntegrationHours(m) is null) || KpiPrices.Keys.Any(c => KpiHours(c) is null))
        {
            yield return "Proposals:Prices: streamingApiNonArchitected and dynamicRbac are time and materials and take no fixed price.";
        }

        decimal[] amounts =
        [
            ArchitectHourlyRate, ApiGatewayMonthly, BusinessServicesMonthly, BackendServicesMonthly, HotStoragePerGbMonth, ColdStoragePerGbMonth,
            RedisMonthly, DataTransferPerGb, SupportRetainer, SupportRetainerHours, SupportHourlyRate, .. IntegrationPrices.Values, .. KpiPrices.Values,
        ];
        if (amounts.Any(a => a < 0))
        {
            yield return "Proposals:Prices: no price may be below 0.";
        }
    }
}

/// <summary>Refuses a configured price list with problems at the silo's start, naming each.</summary>
public sealed class PriceListValidation : Microsoft.Extensions.Options.IValidateOptions<PriceList>
{
    public Microsoft.Extensions.Options.ValidateOptionsResult Validate(string? name, PriceList options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var problems = options.Problems().ToList();
        return problems.Count == 0
            ? Microsoft.Extensions.Options.ValidateOptionsResult.Success
            : Microsoft.Extensions.Options.ValidateOptionsResult.Fail(problems);
    }
}

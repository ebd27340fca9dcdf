namespace AnalyticsEngine.Proposals;

/// <summary>A fixed-price item: the developer hours it takes (for the schedule) and what the client pays.</summary>
internal sealed record FixedPrice(decimal Hours, decimal Price);

/// <summary>
/// The standard price list of service proposals, in US dollars. Fixed-price work is priced per item and done by the
/// integration developer; time-and-materials work (a legacy API, hierarchical access, setting up a platform) is done
/// by an architect at <see cref="ArchitectHourlyRate"/> and estimated as a range of hours.
/// </summary>
internal static class PriceList
{
    public const string Currency = "USD";

    /// <summary>Days a proposal's prices hold.</summary>
    public const int ValidDays = 30;

    public const decimal ArchitectHourlyRate = 175m;

    /// <summary>Hours a week the integration developer spends on one engagement, which sets how long its phases last.</summary>
    public const decimal DeveloperHoursPerWeek = 20m;

    /// <summary>Hours a week an architect spends setting up a platform.</summary>
    public const decimal ArchitectHoursPerWeek = 40m;

    /// <summary>Annual license per value chain, by term in years: longer terms cost less a year.</summary>
    public static IReadOnlyList<(int Years, decimal AnnualPerChain)> LicenseTerms { get; } =
    [
        (1, 35_000m),
        (3, 32_500m),
        (5, 30_000m),
    ];

    public static decimal? AnnualLicensePerChain(int years) =>
        LicenseTerms.Where(t => t.Years == years).Select(t => (decimal?)t.AnnualPerChain).FirstOrDefault();

    /// <summary>A term's saving against the one-year price, in whole percent (7 for three years, 14 for five).</summary>
    public static decimal DiscountPercent(decimal annualPerChain) =>
        Math.Round(100m * (1m - annualPerChain / LicenseTerms[0].AnnualPerChain), 0, MidpointRounding.AwayFromZero);

    /// <summary>The fixed price of an integration method; null for time and materials.</summary>
    public static FixedPrice? Integration(IntegrationMethod method) => method switch
    {
        IntegrationMethod.BatchConformed => new(15m, 1_500m),
        IntegrationMethod.BatchNonConformedSingleSource => new(20m, 2_500m),
        IntegrationMethod.BatchNonConformedMultiSource => new(30m, 3_500m),
        IntegrationMethod.BatchEntityResolution => new(30m, 3_500m),
        IntegrationMethod.StreamingApiArchitected => new(20m, 2_500m),
        _ => null,
    };

    /// <summary>The hours a legacy API's integration takes when the answers do not say.</summary>
    public static HoursEstimate NonArchitectedApiHours { get; } = new(40m, 60m);

    /// <summary>The fixed price of implementing a KPI; null for time and materials.</summary>
    public static FixedPrice? Kpi(KpiComplexity complexity) => complexity switch
    {
        KpiComplexity.Otb => new(0.5m, 50m),
        KpiComplexity.CustomBasic => new(0.5m, 50m),
        KpiComplexity.Rbac => new(1m, 100m),
        _ => null,
    };

    /// <summary>The hours a KPI with hierarchical access takes when the answers do not say.</summary>
    public static HoursEstimate DynamicRbacHours { get; } = new(20m, 30m);

    /// <summary>A cloud architect's hours to set up a platform: 40 to 80 by complexity, 60 when the answers do not say.</summary>
    public static HoursEstimate PlatformSetupHours { get; } = new(40m, 80m);

    public const decimal DefaultPlatformSetupHours = 60m;

    public static (string InstanceType, decimal Monthly) ApiGatewayInstance { get; } = ("t3.medium", 50m);

    public static (string InstanceType, decimal Monthly) BusinessServicesInstance { get; } = ("t3.large", 100m);

    public static (string InstanceType, decimal Monthly) BackendServicesInstance { get; } = ("t3.xlarge", 150m);

    /// <summary>The active database, per GB and month.</summary>
    public const decimal HotStoragePerGbMonth = 0.10m;

    /// <summary>Archives in cold storage, per GB and month.</summary>
    public const decimal ColdStoragePerGbMonth = 0.01m;

    public static (string InstanceType, decimal Monthly) Redis { get; } = ("cache.m5.large", 100m);

    public const decimal DataTransferPerGb = 0.09m;

    public const decimal SupportRetainer = 5_000m;

    /// <summary>Hours the retainer covers: its price at the support rate.</summary>
    public const decimal SupportRetainerHours = 66.67m;

    public const decimal SupportHourlyRate = 75m;

    /// <summary>Rounds an amount to the cent, halves away from zero, as invoices do.</summary>
    public static decimal Cents(decimal amount) => Math.Round(amount, 2, MidpointRounding.AwayFromZero);
}

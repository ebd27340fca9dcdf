namespace AnalyticsEngine.Proposals;

/// <summary>An amount of money known only as a range (work priced by time and materials), in US dollars.</summary>
[GenerateSerializer, Immutable, Alias("ae.MoneyRange")]
public sealed record MoneyRange(
    [property: Id(0)] decimal Min,
    [property: Id(1)] decimal Max)
{
    public static MoneyRange Exactly(decimal amount) => new(amount, amount);

    public static MoneyRange operator +(MoneyRange left, MoneyRange right) =>
        new(left.Min + right.Min, left.Max + right.Max);

    public static MoneyRange operator +(MoneyRange left, decimal right) => new(left.Min + right, left.Max + right);
}

/// <summary>One value chain the license covers, and the proposal's KPIs that need it (none when asked for by name).</summary>
[GenerateSerializer, Immutable, Alias("ae.LicensedValueChain")]
public sealed record LicensedValueChain(
    [property: Id(0)] string Code,
    [property: Id(1)] string Name,
    [property: Id(2)] IReadOnlyList<string> Kpis);

[GenerateSerializer, Immutable, Alias("ae.ProposalLicensing")]
public sealed record ProposalLicensing(
    [property: Id(0)] IReadOnlyList<LicensedValueChain> ValueChains,
    [property: Id(1)] int TermYears,
    [property: Id(2)] decimal AnnualCostPerChain,
    [property: Id(3)] decimal DiscountPercent,
    [property: Id(4)] decimal AnnualTotal,
    [property: Id(5)] decimal TermTotal);

/// <summary>One object model's integration; <see cref="Cost"/> is null for time-and-materials work (see the T&amp;M items).</summary>
[GenerateSerializer, Immutable, Alias("ae.IntegrationLine")]
public sealed record IntegrationLine(
    [property: Id(0)] string ObjectModel,
    [property: Id(1)] string ObjectModelName,
    [property: Id(2)] string? SourceSystem,
    [property: Id(3)] IntegrationMethod Integration,
    [property: Id(4)] IReadOnlyList<string> Kpis,
    [property: Id(5)] decimal? Cost);

/// <summary>One KPI's implementation; <see cref="Cost"/> is null for time-and-materials work (see the T&amp;M items).</summary>
[GenerateSerializer, Immutable, Alias("ae.KpiImplementationLine")]
public sealed record KpiImplementationLine(
    [property: Id(0)] string KpiCode,
    [property: Id(1)] string KpiName,
    [property: Id(2)] bool Custom,
    [property: Id(3)] KpiComplexity Complexity,
    [property: Id(4)] decimal? Cost);

/// <summary>Setting up where the engine runs: a cloud architect's hours, the access specialist included.</summary>
[GenerateSerializer, Immutable, Alias("ae.EnvironmentSetup")]
public sealed record EnvironmentSetup(
    [property: Id(0)] HostingPlatform Platform,
    [property: Id(1)] decimal CloudArchitectHours,
    [property: Id(2)] decimal HourlyRate,
    [property: Id(3)] decimal Cost);

/// <summary>Work priced by time and materials, with its estimated hours and what they would cost.</summary>
[GenerateSerializer, Immutable, Alias("ae.TimeAndMaterialsItem")]
public sealed record TimeAndMaterialsItem(
    [property: Id(0)] string Description,
    [property: Id(1)] HoursEstimate Hours,
    [property: Id(2)] decimal HourlyRate,
    [property: Id(3)] MoneyRange Cost);

/// <summary>The statement of work: fixed-price items, the environment, and time-and-materials estimates.</summary>
[GenerateSerializer, Immutable, Alias("ae.ProposalImplementation")]
public sealed record ProposalImplementation(
    [property: Id(0)] IReadOnlyList<IntegrationLine> DataIntegration,
    [property: Id(1)] decimal DataIntegrationTotal,
    [property: Id(2)] IReadOnlyList<KpiImplementationLine> KpiImplementation,
    [property: Id(3)] decimal KpiImplementationTotal,
    [property: Id(4)] EnvironmentSetup Environment,
    [property: Id(5)] IReadOnlyList<TimeAndMaterialsItem> TimeAndMaterials,
    [property: Id(6)] MoneyRange TimeAndMaterialsTotal,
    [property: Id(7)] decimal FixedCostTotal,
    [property: Id(8)] MoneyRange Total);

/// <summary>Instances of one tier at a monthly price each.</summary>
[GenerateSerializer, Immutable, Alias("ae.ComputeLine")]
public sealed record ComputeLine(
    [property: Id(0)] string Tier,
    [property: Id(1)] string InstanceType,
    [property: Id(2)] int Count,
    [property: Id(3)] decimal MonthlyPerInstance,
    [property: Id(4)] decimal Monthly);

/// <summary>Gigabytes at a monthly price per gigabyte.</summary>
[GenerateSerializer, Immutable, Alias("ae.VolumeLine")]
public sealed record VolumeLine(
    [property: Id(0)] decimal Gb,
    [property: Id(1)] decimal MonthlyPerGb,
    [property: Id(2)] decimal Monthly);

[GenerateSerializer, Immutable, Alias("ae.StorageEstimate")]
public sealed record StorageEstimate(
    [property: Id(0)] VolumeLine ActiveDatabase,
    [property: Id(1)] VolumeLine ArchivedData,
    [property: Id(2)] string RedisInstanceType,
    [property: Id(3)] decimal RedisMonthly,
    [property: Id(4)] decimal Monthly);

/// <summary>The infrastructure estimate, monthly and annual, by component.</summary>
[GenerateSerializer, Immutable, Alias("ae.InfrastructureEstimate")]
public sealed record InfrastructureEstimate(
    [property: Id(0)] IReadOnlyList<ComputeLine> Compute,
    [property: Id(1)] decimal ComputeMonthly,
    [property: Id(2)] StorageEstimate Storage,
    [property: Id(3)] VolumeLine Network,
    [property: Id(4)] decimal Monthly,
    [property: Id(5)] decimal Annual,
    [property: Id(6)] RefreshPeriod RefreshPeriod,
    [property: Id(7)] int ConcurrentUsers,
    [property: Id(8)] decimal DailyIngestGb);

[GenerateSerializer, Immutable, Alias("ae.ManagedServicesEstimate")]
public sealed record ManagedServicesEstimate(
    [property: Id(0)] decimal Retainer,
    [property: Id(1)] decimal RetainerHours,
    [property: Id(2)] decimal AdditionalHours,
    [property: Id(3)] decimal HourlyRate,
    [property: Id(4)] decimal AdditionalCost,
    [property: Id(5)] decimal AnnualTotal);

/// <summary>One kind of data's retention as priced: days in the active database, then days archived (null: for good; 0: deleted).</summary>
[GenerateSerializer, Immutable, Alias("ae.RetentionPlan")]
public sealed record RetentionPlan(
    [property: Id(0)] int ActiveDays,
    [property: Id(1)] bool Archive,
    [property: Id(2)] int? ArchiveDays);

/// <summary>The retention the proposal prices, after the compliance regimes' minimums; <see cref="Notes"/> says what they changed.</summary>
[GenerateSerializer, Immutable, Alias("ae.ProposalRetention")]
public sealed record ProposalRetention(
    [property: Id(0)] RetentionPlan StagedSourceData,
    [property: Id(1)] RetentionPlan AnalyticsData,
    [property: Id(2)] GranularityAnswer Granularity,
    [property: Id(3)] IReadOnlyList<ComplianceRegime> Compliance,
    [property: Id(4)] string? OtherCompliance,
    [property: Id(5)] IReadOnlyList<string> Notes);

/// <summary>What the client pays: the first year (with the one-time implementation), each later year, and the whole term.</summary>
[GenerateSerializer, Immutable, Alias("ae.ProposalTotals")]
public sealed record ProposalTotals(
    [property: Id(0)] MoneyRange Year1,
    [property: Id(1)] decimal YearlyRecurring,
    [property: Id(2)] MoneyRange TermTotal);

/// <summary>
/// One role of the integration team and the weeks it works (both null: as needed); <see cref="HourlyRate"/> is null when its
/// work is priced in the fixed-price items or included.
/// </summary>
[GenerateSerializer, Immutable, Alias("ae.ProposalResource")]
public sealed record ProposalResource(
    [property: Id(0)] string Role,
    [property: Id(1)] int? FromWeek,
    [property: Id(2)] int? ToWeek,
    [property: Id(3)] decimal? HourlyRate,
    [property: Id(4)] string Basis);

/// <summary>One phase of the engagement and the roles in it.</summary>
[GenerateSerializer, Immutable, Alias("ae.ProposalPhase")]
public sealed record ProposalPhase(
    [property: Id(0)] string Phase,
    [property: Id(1)] int FromWeek,
    [property: Id(2)] int ToWeek,
    [property: Id(3)] IReadOnlyList<string> Resources);

/// <summary>A service proposal: licensing, statement of work, infrastructure, managed services, totals and schedule, in US dollars.</summary>
[GenerateSerializer, Immutable, Alias("ae.ServiceProposal")]
public sealed record ServiceProposal(
    [property: Id(0)] string? ClientId,
    [property: Id(1)] string ClientName,
    [property: Id(2)] DateOnly Date,
    [property: Id(3)] DateOnly ValidUntil,
    [property: Id(4)] string Currency,
    [property: Id(5)] ProposalLicensing Licensing,
    [property: Id(6)] ProposalImplementation Implementation,
    [property: Id(7)] InfrastructureEstimate Infrastructure,
    [property: Id(8)] ManagedServicesEstimate ManagedServices,
    [property: Id(9)] ProposalRetention Retention,
    [property: Id(10)] ProposalTotals Totals,
    [property: Id(11)] IReadOnlyList<ProposalResource> Resources,
    [property: Id(12)] IReadOnlyList<ProposalPhase> Timeline);

/// <summary>A proposal, or what was wrong with the answers ("field: message" lines; the proposal is then null).</summary>
[GenerateSerializer, Immutable, Alias("ae.ProposalOutcome")]
public sealed record ProposalOutcome(
    [property: Id(0)] ServiceProposal? Proposal,
    [property: Id(1)] IReadOnlyList<string> Problems,
    [property: Id(2)] bool UnknownClient = false);

/// <summary>Generates service proposals and their questionnaires from the catalog and a client's KPIs (stateless).</summary>
[Alias("ae.IProposalGrain")]
public interface IProposalGrain : IGrainWithIntegerKey
{
    /// <summary>Prices the questionnaire's answers.</summary>
    [Alias("Generate")]
    Task<ProposalOutcome> Generate(ProposalRequest request);

    /// <summary>The questionnaire for a set of KPIs (a client's selected ones when none are given), with its choices priced.</summary>
    [Alias("Questionnaire")]
    Task<QuestionnaireOutcome> Questionnaire(IReadOnlyList<string>? kpiCodes, string? clientId);
}

using System.ComponentModel.DataAnnotations;
using System.Text.Json.Serialization;
using AnalyticsEngine.Clients;

namespace AnalyticsEngine.Proposals;

// A choice among values (an enum, true or false) without a default is [JsonRequired]: left out of a body, it would read
// as its first value (batchConformed, archive: false), an answer the caller never gave, and be priced as such.

/// <summary>How one object model's data reaches the engine, as the proposal's questionnaire offers it.</summary>
public enum IntegrationMethod
{
    /// <summary>A batch already in the object model's shape: little to transform.</summary>
    BatchConformed = 0,

    /// <summary>A batch from one source system that needs transforming.</summary>
    BatchNonConformedSingleSource = 1,

    /// <summary>Batches from several source systems, merged and transformed.</summary>
    BatchNonConformedMultiSource = 2,

    /// <summary>Batches whose records must be de-duplicated and matched across sources.</summary>
    BatchEntityResolution = 3,

    /// <summary>A documented API with a clear schema, streamed.</summary>
    StreamingApiArchitected = 4,

    /// <summary>A legacy API to reverse-engineer: time and materials.</summary>
    StreamingApiNonArchitected = 5,
}

/// <summary>How much work one KPI is to put in place.</summary>
public enum KpiComplexity
{
    /// <summary>A catalog KPI as it is ("out of the box").</summary>
    Otb = 0,

    /// <summary>A simple change of a formula, or a simple custom KPI.</summary>
    CustomBasic = 1,

    /// <summary>A KPI whose rows are filtered by the viewer's role.</summary>
    Rbac = 2,

    /// <summary>Hierarchical access (commissions inherited up a sales hierarchy): time and materials.</summary>
    DynamicRbac = 3,
}

/// <summary>Where the engine will run; every choice but <see cref="None"/> needs a cloud architect's setup.</summary>
public enum HostingPlatform
{
    /// <summary>The client's existing environment: nothing to set up.</summary>
    None = 0,
    OnPremises = 1,
    Azure = 2,
    Aws = 3,
    Gcp = 4,
    OracleCloud = 5,
}

/// <summary>The unit a retention period is given in.</summary>
public enum RetentionUnit
{
    Days = 0,
    Months = 1,
    Years = 2,

    /// <summary>Kept for good (archives only).</summary>
    Indefinite = 3,
}

/// <summary>A compliance regime the client is under; some set a minimum retention.</summary>
public enum ComplianceRegime
{
    Gdpr = 0,
    Sox = 1,
    Hipaa = 2,
    Iso27001 = 3,
}

/// <summary>How often dashboards refresh.</summary>
public enum RefreshPeriod
{
    Minute = 0,
    Hour = 1,
    Day = 2,
}

/// <summary>A range of estimated hours for work priced by time and materials.</summary>
[GenerateSerializer, Immutable, Alias("ae.HoursEstimate")]
public sealed record HoursEstimate(
    [property: Id(0)] decimal Min,
    [property: Id(1)] decimal Max);

/// <summary>How one object model's data will be integrated.</summary>
/// <param name="EstimatedHours">For <see cref="IntegrationMethod.StreamingApiNonArchitected"/> only: the hours expected (40–60 when not given).</param>
[GenerateSerializer, Immutable, Alias("ae.DataSourceAnswer")]
public sealed record DataSourceAnswer(
    [property: Id(0)] string ObjectModel,
    [property: Id(1), JsonRequired] IntegrationMethod Integration,
    [property: Id(2)] string? SourceSystem = null,
    [property: Id(3)] HoursEstimate? EstimatedHours = null);

/// <summary>How complex one KPI is to implement.</summary>
/// <param name="EstimatedHours">For <see cref="KpiComplexity.DynamicRbac"/> only: the hours expected (20–30 when not given).</param>
[GenerateSerializer, Immutable, Alias("ae.KpiComplexityAnswer")]
public sealed record KpiComplexityAnswer(
    [property: Id(0)] string KpiCode,
    [property: Id(1), JsonRequired] KpiComplexity Complexity,
    [property: Id(2)] HoursEstimate? EstimatedHours = null);

/// <summary>Where the engine will run.</summary>
/// <param name="CloudArchitectHours">The cloud architect's hours to set the platform up (60 when not given; none without a platform).</param>
[GenerateSerializer, Immutable, Alias("ae.EnvironmentAnswer")]
public sealed record EnvironmentAnswer(
    [property: Id(0), JsonRequired] HostingPlatform Platform,
    [property: Id(1)] decimal? CloudArchitectHours = null);

/// <summary>How long one kind of data is kept in the active database, and whether and how long it is archived after.</summary>
[GenerateSerializer, Immutable, Alias("ae.RetentionAnswer")]
public sealed record RetentionAnswer(
    [property: Id(0), JsonRequired, Range(1, RetentionAnswer.MaxPeriodDays)] int ActivePeriod,
    [property: Id(1), JsonRequired] RetentionUnit ActiveUnit,
    [property: Id(2), JsonRequired] bool Archive,
    [property: Id(3), Range(1, RetentionAnswer.MaxPeriodDays)] int? ArchivePeriod = null,
    [property: Id(4)] RetentionUnit? ArchiveUnit = null)
{
    /// <summary>
    /// The largest period any unit allows, in days (100 years): what a caller is told a period that is not a whole
    /// number, or too large for one, must be within; the retention rules then check it against its unit.
    /// </summary>
    public const int MaxPeriodDays = 36_500;
}

/// <summary>Which levels of detail are kept.</summary>
[GenerateSerializer, Immutable, Alias("ae.GranularityAnswer")]
public sealed record GranularityAnswer(
    [property: Id(0)] bool RawData = true,
    [property: Id(1)] bool MinuteAggregates = true,
    [property: Id(2)] bool HourlyAggregates = true,
    [property: Id(3)] bool DailyAggregates = true,
    [property: Id(4)] bool MonthlyAggregates = true);

/// <summary>The retention section of the questionnaire; what is not given takes the questionnaire's recommendation.</summary>
/// <param name="StagedSourceData">Raw rows as the sources deliver them.</param>
/// <param name="AnalyticsData">Computed KPI values and aggregates.</param>
/// <param name="OtherCompliance">A regime the list does not name, in the client's words; recorded, not applied.</param>
[GenerateSerializer, Immutable, Alias("ae.RetentionAnswers")]
public sealed record RetentionAnswers(
    [property: Id(0)] RetentionAnswer? StagedSourceData = null,
    [property: Id(1)] RetentionAnswer? AnalyticsData = null,
    [property: Id(2)] GranularityAnswer? Granularity = null,
    [property: Id(3)] IReadOnlyList<ComplianceRegime>? Compliance = null,
    [property: Id(4)] string? OtherCompliance = null);

/// <summary>What the infrastructure estimate is sized from.</summary>
/// <param name="DailyIngestGb">Source data arriving per day, in GB.</param>
/// <param name="MonthlyDataTransferGb">Data leaving the platform per month (30 days of ingest when not given).</param>
/// <param name="Instances">Instance counts to price instead of the estimate's own.</param>
[GenerateSerializer, Immutable, Alias("ae.InfrastructureAnswers")]
public sealed record InfrastructureAnswers(
    [property: Id(0)] decimal DailyIngestGb,
    [property: Id(1)] int ConcurrentUsers,
    [property: Id(2)] RefreshPeriod RefreshPeriod = RefreshPeriod.Minute,
    [property: Id(3)] decimal? MonthlyDataTransferGb = null,
    [property: Id(4)] InstanceCounts? Instances = null);

/// <summary>Instance counts per tier.</summary>
[GenerateSerializer, Immutable, Alias("ae.InstanceCounts")]
public sealed record InstanceCounts(
    [property: Id(0)] int? ApiGateway = null,
    [property: Id(1)] int? BusinessServices = null,
    [property: Id(2)] int? BackendServices = null);

/// <summary>Managed services: the annual retainer, and support hours beyond it.</summary>
[GenerateSerializer, Immutable, Alias("ae.ManagedServicesAnswer")]
public sealed record ManagedServicesAnswer(
    [property: Id(0), JsonRequired] bool Retainer,
    [property: Id(1)] decimal AdditionalHours = 0);

/// <summary>
/// The answers to the service proposal's questionnaire. The KPIs are the client's selected ones when
/// <see cref="ClientId"/> names a client and <see cref="KpiCodes"/> is not given.
/// </summary>
/// <param name="ValueChains">Value chains to license beyond those the KPIs need.</param>
/// <param name="Kpis">Complexity of some KPIs; the others are out of the box (catalog) or custom basic (custom).</param>
/// <param name="Date">The proposal's date (today, UTC, when not given); it is valid 30 days.</param>
[GenerateSerializer, Immutable, Alias("ae.ProposalRequest")]
public sealed record ProposalRequest(
    [property: Id(0)] int LicenseTermYears,
    [property: Id(1)] InfrastructureAnswers? Infrastructure,
    [property: Id(2)] string? ClientId = null,
    [property: Id(3)] string? ClientName = null,
    [property: Id(4)] IReadOnlyList<string>? KpiCodes = null,
    [property: Id(5)] IReadOnlyList<string>? ValueChains = null,
    [property: Id(6)] IReadOnlyList<DataSourceAnswer>? DataSources = null,
    [property: Id(7)] IReadOnlyList<KpiComplexityAnswer>? Kpis = null,
    [property: Id(8)] EnvironmentAnswer? Environment = null,
    [property: Id(9)] RetentionAnswers? Retention = null,
    [property: Id(10)] ManagedServicesAnswer? ManagedServices = null,
    [property: Id(11)] DateOnly? Date = null) : IClientScoped;

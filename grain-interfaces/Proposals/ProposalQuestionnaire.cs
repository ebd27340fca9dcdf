namespace AnalyticsEngine.Proposals;

/// <summary>One KPI of the questionnaire, the value chains it needs licensed, and the complexity it has unless told otherwise.</summary>
[GenerateSerializer, Immutable, Alias("ae.QuestionnaireKpi")]
public sealed record QuestionnaireKpi(
    [property: Id(0)] string Code,
    [property: Id(1)] string Name,
    [property: Id(2)] bool Custom,
    [property: Id(3)] IReadOnlyList<string> ValueChains,
    [property: Id(4)] KpiComplexity DefaultComplexity);

/// <summary>An object model the KPIs read, which the questionnaire asks how it is integrated.</summary>
[GenerateSerializer, Immutable, Alias("ae.QuestionnaireObjectModel")]
public sealed record QuestionnaireObjectModel(
    [property: Id(0)] string Code,
    [property: Id(1)] string Name,
    [property: Id(2)] IReadOnlyList<string> Kpis);

/// <summary>A license term and its price per value chain and year.</summary>
[GenerateSerializer, Immutable, Alias("ae.LicenseTermChoice")]
public sealed record LicenseTermChoice(
    [property: Id(0)] int Years,
    [property: Id(1)] decimal AnnualCostPerChain,
    [property: Id(2)] decimal DiscountPercent);

/// <summary>
/// A priced choice: a fixed <see cref="Price"/>, or time and materials at <see cref="HourlyRate"/> for about
/// <see cref="EstimatedHours"/> (Price null).
/// </summary>
[GenerateSerializer, Immutable, Alias("ae.IntegrationChoice")]
public sealed record IntegrationChoice(
    [property: Id(0)] IntegrationMethod Method,
    [property: Id(1)] string Label,
    [property: Id(2)] decimal? Price,
    [property: Id(3)] decimal? HourlyRate,
    [property: Id(4)] HoursEstimate? EstimatedHours);

[GenerateSerializer, Immutable, Alias("ae.ComplexityChoice")]
public sealed record ComplexityChoice(
    [property: Id(0)] KpiComplexity Complexity,
    [property: Id(1)] string Label,
    [property: Id(2)] decimal? Price,
    [property: Id(3)] decimal? HourlyRate,
    [property: Id(4)] HoursEstimate? EstimatedHours);

[GenerateSerializer, Immutable, Alias("ae.PlatformChoice")]
public sealed record PlatformChoice(
    [property: Id(0)] HostingPlatform Platform,
    [property: Id(1)] string Label,
    [property: Id(2)] decimal? HourlyRate,
    [property: Id(3)] HoursEstimate? EstimatedHours);

/// <summary>A retention period the questionnaire offers (<see cref="Period"/> null with <see cref="RetentionUnit.Indefinite"/>).</summary>
[GenerateSerializer, Immutable, Alias("ae.PeriodChoice")]
public sealed record PeriodChoice(
    [property: Id(0)] int? Period,
    [property: Id(1)] RetentionUnit Unit,
    [property: Id(2)] string Label,
    [property: Id(3)] bool Recommended);

/// <summary>A compliance regime and the retention it requires at least (null: none).</summary>
[GenerateSerializer, Immutable, Alias("ae.ComplianceChoice")]
public sealed record ComplianceChoice(
    [property: Id(0)] ComplianceRegime Regime,
    [property: Id(1)] string Name,
    [property: Id(2)] int? MinimumYears);

/// <summary>The retention section's questions: how long in the active database, how long archived, for each kind of data.</summary>
[GenerateSerializer, Immutable, Alias("ae.RetentionQuestions")]
public sealed record RetentionQuestions(
    [property: Id(0)] IReadOnlyList<PeriodChoice> StagedSourceDataActive,
    [property: Id(1)] IReadOnlyList<PeriodChoice> StagedSourceDataArchive,
    [property: Id(2)] IReadOnlyList<PeriodChoice> AnalyticsDataActive,
    [property: Id(3)] IReadOnlyList<PeriodChoice> AnalyticsDataArchive,
    [property: Id(4)] GranularityAnswer RecommendedGranularity,
    [property: Id(5)] IReadOnlyList<ComplianceChoice> Compliance);

[GenerateSerializer, Immutable, Alias("ae.ManagedServicesChoice")]
public sealed record ManagedServicesChoice(
    [property: Id(0)] decimal Retainer,
    [property: Id(1)] decimal RetainerHours,
    [property: Id(2)] decimal HourlyRate);

/// <summary>
/// The service proposal's questionnaire for a set of KPIs: the value chains and object models they need, and every
/// question's choices with their prices, in US dollars. Its answers are a <see cref="ProposalRequest"/>.
/// </summary>
[GenerateSerializer, Immutable, Alias("ae.ProposalQuestionnaire")]
public sealed record ProposalQuestionnaire(
    [property: Id(0)] string? ClientId,
    [property: Id(1)] IReadOnlyList<QuestionnaireKpi> Kpis,
    [property: Id(2)] IReadOnlyList<LicensedValueChain> ValueChains,
    [property: Id(3)] IReadOnlyList<LicenseTermChoice> LicenseTerms,
    [property: Id(4)] IReadOnlyList<QuestionnaireObjectModel> ObjectModels,
    [property: Id(5)] IReadOnlyList<IntegrationChoice> IntegrationMethods,
    [property: Id(6)] IReadOnlyList<ComplexityChoice> KpiComplexities,
    [property: Id(7)] IReadOnlyList<PlatformChoice> Platforms,
    [property: Id(8)] RetentionQuestions Retention,
    [property: Id(9)] ManagedServicesChoice ManagedServices);

/// <summary>A questionnaire, or what was wrong with the request ("field: message" lines).</summary>
[GenerateSerializer, Immutable, Alias("ae.QuestionnaireOutcome")]
public sealed record QuestionnaireOutcome(
    [property: Id(0)] ProposalQuestionnaire? Questionnaire,
    [property: Id(1)] IReadOnlyList<string> Problems,
    [property: Id(2)] bool UnknownClient = false);

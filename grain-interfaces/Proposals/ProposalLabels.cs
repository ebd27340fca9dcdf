namespace AnalyticsEngine.Proposals;

/// <summary>What the questionnaire and the proposal document call each choice, so that both say the same.</summary>
public static class ProposalLabels
{
    public static string Of(IntegrationMethod method) => method switch
    {
        IntegrationMethod.BatchConformed => "Batch – conformed/cleansed",
        IntegrationMethod.BatchNonConformedSingleSource => "Batch – non-conformed, single source",
        IntegrationMethod.BatchNonConformedMultiSource => "Batch – non-conformed, multi source",
        IntegrationMethod.BatchEntityResolution => "Batch – entity resolution",
        IntegrationMethod.StreamingApiArchitected => "Streaming – API, architected",
        IntegrationMethod.StreamingApiNonArchitected => "Streaming – API, non-architected",
        _ => method.ToString(),
    };

    public static string Of(KpiComplexity complexity) => complexity switch
    {
        KpiComplexity.Otb => "OTB",
        KpiComplexity.CustomBasic => "Custom basic",
        KpiComplexity.Rbac => "RBAC",
        KpiComplexity.DynamicRbac => "Dynamic RBAC",
        _ => complexity.ToString(),
    };

    public static string Of(HostingPlatform platform) => platform switch
    {
        HostingPlatform.None => "No setup",
        HostingPlatform.OnPremises => "On-premises",
        HostingPlatform.Azure => "Azure",
        HostingPlatform.Aws => "AWS",
        HostingPlatform.Gcp => "GCP",
        HostingPlatform.OracleCloud => "Oracle Cloud",
        _ => platform.ToString(),
    };

    public static string Of(ComplianceRegime regime) => regime switch
    {
        ComplianceRegime.Gdpr => "GDPR",
        ComplianceRegime.Sox => "SOX",
        ComplianceRegime.Hipaa => "HIPAA",
        ComplianceRegime.Iso27001 => "ISO 27001",
        _ => regime.ToString(),
    };
}

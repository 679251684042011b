@{
    RootModule           = 'Gadget.psm1'
    ModuleVersion        = '0.1.0'
    GUID                 = '4f7c2a8e-3b1d-4e6a-9c55-0d2e8b7f1a63'
    Author               = 'Gadget contributors'
    CompanyName          = 'Gadget'
    Copyright            = '(c) Gadget contributors. MIT License.'
    Description          = 'Live system insight from Linux hosts and Kubernetes clusters with eBPF, as typed PowerShell objects.'
    # 7.4 is Azure Automation's newest runtime (.NET 8); the assemblies target net8.0 for it.
    PowerShellVersion    = '7.4'
    CompatiblePSEditions = @('Core')
    FormatsToProcess     = @('Gadget.Events.Format.ps1xml', 'Gadget.Format.ps1xml')
    CmdletsToExport      = @(
        'Get-GadgetContainer'
        'Get-GadgetProcess'
        'Get-GadgetSocket'
        'Get-GadgetTopBlockIO'
        'Get-GadgetTopFile'
        'Get-GadgetTopTcp'
        'Get-GadgetVersion'
        'Install-Gadget'
        'Invoke-GadgetProgram'
        'Start-GadgetTrace'
        'Trace-GadgetDns'
        'Trace-GadgetExec'
        'Trace-GadgetOpen'
        'Trace-GadgetSignal'
        'Trace-GadgetTcp'
        'Trace-GadgetBind'
        'Trace-GadgetMount'
        'Trace-GadgetOomKill'
        'Trace-GadgetCapabilities'
        'Uninstall-Gadget'
    )
    FunctionsToExport    = @()
    VariablesToExport    = @()
    AliasesToExport      = @()
    PrivateData          = @{
        PSData = @{
            Tags         = @('eBPF', 'Linux', 'Kubernetes', 'AKS', 'Tracing', 'Observability', 'DNS', 'Troubleshooting', 'PSEdition_Core', 'Windows', 'MacOS')
            ProjectUri   = 'https://github.com/gadget-ps/gadget'
            LicenseUri   = 'https://github.com/gadget-ps/gadget/blob/main/LICENSE'
            ReleaseNotes = @'
0.1.0: the first release. Trace-GadgetExec, Trace-GadgetOpen, Trace-GadgetDns and Start-GadgetTrace
on this host (-Local, Linux, root) or on every node of a Kubernetes cluster (Install-Gadget);
Get-GadgetContainer, Get-GadgetVersion, Uninstall-Gadget. Runs on PowerShell 7.4, 7.5 and 7.6
(Azure Automation included); a cluster is reached with a kubeconfig (path or content) or with
-Server and -Token. The full list of changes is in CHANGELOG.md.
'@
        }
    }
}

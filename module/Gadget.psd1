@{
    RootModule           = 'Gadget.psm1'
    ModuleVersion        = '0.1.0'
    GUID                 = '4f7c2a8e-3b1d-4e6a-9c55-0d2e8b7f1a63'
    Author               = 'Gadget contributors'
    CompanyName          = 'Gadget'
    Copyright            = '(c) Gadget contributors. MIT License.'
    Description          = 'Live system insight from Linux hosts and Kubernetes clusters with eBPF, as typed PowerShell objects.'
    PowerShellVersion    = '7.6'
    CompatiblePSEditions = @('Core')
    FormatsToProcess     = @('Gadget.Events.Format.ps1xml', 'Gadget.Format.ps1xml')
    CmdletsToExport      = @(
        'Get-GadgetContainer'
        'Get-GadgetVersion'
        'Install-Gadget'
        'Start-GadgetTrace'
        'Trace-GadgetDns'
        'Trace-GadgetExec'
        'Trace-GadgetOpen'
        'Trace-GadgetSignal'
        'Uninstall-Gadget'
    )
    FunctionsToExport    = @()
    VariablesToExport    = @()
    AliasesToExport      = @()
    PrivateData          = @{
        PSData = @{
            Tags       = @('eBPF', 'Linux', 'Kubernetes', 'Tracing', 'Observability')
            LicenseUri = 'https://opensource.org/licenses/MIT'
        }
    }
}

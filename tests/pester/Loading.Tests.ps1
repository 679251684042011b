#Requires -Version 7.6
# How the module loads: its libraries in a context of their own, beside other modules' versions
# of the same libraries, in a fresh pwsh each time (what was loaded before is the point).
param([string] $ModulePath = $env:GADGET_MODULE_PATH)

BeforeAll {
    . (Join-Path $PSScriptRoot 'Gadget.TestHelpers.ps1')
    $manifest = Join-Path $ModulePath 'Gadget.psd1'

    # YamlDotNet 13 (restored beside Pester) against the 18 the Kubernetes client needs: what
    # another module may bring. Its assembly version differs, so one shared context cannot hold both.
    $packages = Split-Path (Split-Path (Split-Path (Get-Module Pester).ModuleBase))
    $oldYaml = Join-Path $packages 'yamldotnet/13.7.1/lib/net7.0/YamlDotNet.dll'

    # Reading this kubeconfig takes YamlDotNet; its API server then refuses on loopback, so the
    # command ends with the module's own error for an unreachable cluster.
    $script:Directory = New-TestDirectory
    $kubeConfig = Join-Path $Directory 'kubeconfig'
    Set-Content $kubeConfig @'
apiVersion: v1
kind: Config
clusters:
- name: refused
  cluster: { server: "https://127.0.0.1:1", insecure-skip-tls-verify: true }
users:
- name: nobody
  user: { token: not-a-token }
contexts:
- name: refused
  context: { cluster: refused, user: nobody }
current-context: refused
'@

    $readKubeConfig = "try { Get-GadgetContainer -KubeConfig '$kubeConfig' -ErrorAction Stop; 'no error' } catch { `$_.FullyQualifiedErrorId }"
    $yamlContexts = '@([AppDomain]::CurrentDomain.GetAssemblies() | Where-Object { $_.GetName().Name -eq ''YamlDotNet'' } | ForEach-Object { "$($_.GetName().Version) in $([Runtime.Loader.AssemblyLoadContext]::GetLoadContext($_).Name)" })'

    $olderFirstCommand = @"
Add-Type -Path '$oldYaml'
Import-Module '$manifest'
@{ KubeConfig = $readKubeConfig; Yaml = $yamlContexts } | ConvertTo-Json -Compress
"@
    $script:OlderFirst = Invoke-FreshPwsh $olderFirstCommand
    $script:OlderFirstResult = if ($OlderFirst.ExitCode -eq 0) { $OlderFirst.Output | ConvertFrom-Json -AsHashtable } else { @{} }

    $gadgetFirstCommand = @"
Import-Module '$manifest'
`$result = [ordered]@{ KubeConfig = $readKubeConfig }
try { Add-Type -Path '$oldYaml'; `$result.Older = '{0}: {1}' -f [YamlDotNet.Serialization.SerializerBuilder].Assembly.GetName().Version, [YamlDotNet.Serialization.SerializerBuilder]::new().Build().Serialize(@{ key = 'value' }).Trim() }
catch { `$result.Older = `$_.Exception.Message }
`$result.Yaml = $yamlContexts
`$result.ContextOfEvents = [Runtime.Loader.AssemblyLoadContext]::GetLoadContext([Gadget.ExecEvent].Assembly).Name
`$result.ResponseCode = [string][Gadget.DnsResponseCode]::NXDomain
Import-Module '$manifest' -Force
`$result.CmdletsAfterForce = @(Get-Command -Module Gadget).Count
Remove-Module Gadget
`$result.OpenFlagsAfterRemove = [bool]('Gadget.OpenFlags' -as [type])
`$result.CmdletsAfterRemove = @(Get-Command -ListImported -CommandType Cmdlet | Where-Object ModuleName -eq Gadget).Count
Import-Module '$manifest'
`$result.CmdletsAfterReimport = @(Get-Command -Module Gadget).Count
`$result.OpenFlagsAfterReimport = [bool]('Gadget.OpenFlags' -as [type])
`$result.KubeConfigAfterReimport = $readKubeConfig
`$result | ConvertTo-Json -Compress
"@
    $script:GadgetFirst = Invoke-FreshPwsh $gadgetFirstCommand
    $script:GadgetFirstResult = if ($GadgetFirst.ExitCode -eq 0) { $GadgetFirst.Output | ConvertFrom-Json -AsHashtable } else { @{} }
    $script:CmdletCount = (Import-PowerShellDataFile $manifest).CmdletsToExport.Count
}

AfterAll {
    Remove-Item $Directory -Recurse -Force -ErrorAction Ignore
}

Describe 'Loading beside another version of a library the module ships' {
    It 'reads a kubeconfig after another module loaded an older YamlDotNet' {
        $OlderFirst.ExitCode | Should -Be 0 -Because $OlderFirst.Errors
        $OlderFirstResult.KubeConfig | Should -BeExactly 'KubeRequestFailed,Gadget.Commands.GetGadgetContainerCommand'
    }

    It 'lets another module load an older YamlDotNet after it read a kubeconfig' {
        $GadgetFirst.ExitCode | Should -Be 0 -Because $GadgetFirst.Errors
        $GadgetFirstResult.KubeConfig | Should -BeExactly 'KubeRequestFailed,Gadget.Commands.GetGadgetContainerCommand'
        # Its own version, not the module's: a shared context would hand it the 18 already loaded.
        $GadgetFirstResult.Older | Should -BeExactly '13.0.0.0: key: value'
    }

    It 'keeps its own YamlDotNet in its own load context, and the other in the default one' {
        $OlderFirstResult.Yaml | Sort-Object | Should -Be @(
            '13.0.0.0 in Default'
            "18.0.0.0 in Gadget ($ModulePath)"
        )
        $GadgetFirstResult.Yaml | Sort-Object | Should -Be $OlderFirstResult.Yaml
    }
}

Describe 'The module''s types and cmdlets' {
    It 'resolves its public types by name, from its own load context' {
        $GadgetFirstResult.ContextOfEvents | Should -BeExactly "Gadget ($ModulePath)"
        $GadgetFirstResult.ResponseCode | Should -BeExactly 'NXDomain'
    }

    It 'keeps every cmdlet through Import-Module -Force, Remove-Module and a new import' {
        $GadgetFirstResult.CmdletsAfterForce | Should -Be $CmdletCount
        $GadgetFirstResult.CmdletsAfterRemove | Should -Be 0
        $GadgetFirstResult.CmdletsAfterReimport | Should -Be $CmdletCount
        $GadgetFirstResult.KubeConfigAfterReimport | Should -BeExactly 'KubeRequestFailed,Gadget.Commands.GetGadgetContainerCommand'
    }

    It 'names its types to PowerShell only while it is imported' {
        $GadgetFirstResult.OpenFlagsAfterRemove | Should -BeFalse
        $GadgetFirstResult.OpenFlagsAfterReimport | Should -BeTrue
    }
}

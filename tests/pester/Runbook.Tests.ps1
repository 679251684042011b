#Requires -Version 7.6
# A runbook, run the way Azure Automation runs one: a script file in a fresh, non-interactive pwsh,
# its kubeconfig's content from an automation variable, its results on the output stream only.
param([string] $ModulePath = $env:GADGET_MODULE_PATH)

BeforeAll {
    . (Join-Path $PSScriptRoot 'Gadget.TestHelpers.ps1')
    $script:Directory = New-TestDirectory 'gadget-runbook'

    $stubPath = if ($env:GADGET_KUBESTUB_PATH) { $env:GADGET_KUBESTUB_PATH } else {
        @('Release', 'Debug') | ForEach-Object { Join-Path $PSScriptRoot "../Gadget.KubeStub/bin/$_/net10.0/gadget-kubestub" } | Where-Object { Test-Path $_ } | Select-Object -First 1
    }
    $kubeconfigPath = Join-Path $Directory 'kubeconfig'
    $script:Stub = Start-Process -FilePath $stubPath -PassThru `
        -ArgumentList '--kubeconfig', $kubeconfigPath, '--node', 'aks-sys-0', '--parent-pid', $PID `
        -RedirectStandardOutput (Join-Path $Directory 'stub.out') -RedirectStandardError (Join-Path $Directory 'stub.err')
    Wait-Condition { $Stub.HasExited -or (Test-Path $kubeconfigPath) } -Timeout '00:00:30' | Should -BeTrue
    $kubeconfig = Get-Content $kubeconfigPath -Raw

    # A server that accepts connections and never answers.
    $script:Silent = [Net.Sockets.TcpListener]::new([Net.IPAddress]::Loopback, 0)
    $Silent.Start()
    $silentUrl = "https://127.0.0.1:$($Silent.LocalEndpoint.Port)"

    # Azure Automation gives a runbook Get-AutomationVariable; here it reads the variables from a file.
    $variables = Join-Path $Directory 'variables.json'
    @{
        AksKubeConfig       = [Convert]::ToBase64String([Text.Encoding]::UTF8.GetBytes($kubeconfig))
        BrokenKubeConfig    = 'users: [ { name: u, user: { token: do-not-print-me-0123456789 } } ]'
        SilentServer        = $silentUrl
    } | ConvertTo-Json | Set-Content $variables

    $script:Runbook = Join-Path $Directory 'Install-GadgetRunbook.ps1'
    Set-Content $Runbook @"
function Get-AutomationVariable { param([string] `$Name) (Get-Content '$variables' -Raw | ConvertFrom-Json).`$Name }
`$ErrorActionPreference = 'Stop'
`$ProgressPreference = 'SilentlyContinue'
Import-Module '$(Join-Path $ModulePath 'Gadget.psd1')'
# One JSON line per result, so that the test can read every object of the output stream back.
filter Out-Result { `$_ | ConvertTo-Json -Compress }

`$kubeconfig = Get-AutomationVariable -Name AksKubeConfig
Install-Gadget -KubeConfig `$kubeconfig -PassThru | ForEach-Object { [pscustomobject]@{ Step = 'install'; Kind = `$_.Kind; Action = `$_.Action } } | Out-Result
Get-GadgetVersion -KubeConfig `$kubeconfig | ForEach-Object { [pscustomobject]@{ Step = 'version'; Kind = 'agent'; Action = `$_.AgentVersion } } | Out-Result

# Each failure is a catchable terminating error with a stable id.
foreach (`$case in @(
    @{ Name = 'broken'; Run = { Get-GadgetVersion -KubeConfig (Get-AutomationVariable -Name BrokenKubeConfig) } }
    @{ Name = 'silent'; Run = { Get-GadgetVersion -Server (Get-AutomationVariable -Name SilentServer) -Token 'do-not-print-me-0123456789' } }
)) {
    try { & `$case.Run; [pscustomobject]@{ Step = `$case.Name; Kind = 'no error'; Action = '' } | Out-Result }
    catch { [pscustomobject]@{ Step = `$case.Name; Kind = `$_.FullyQualifiedErrorId; Action = "`$(`$_.CategoryInfo.Category)|`$(`$_.TargetObject)|`$(`$_.Exception.Message)" } | Out-Result }
}
"@
}

AfterAll {
    if ($script:Stub -and -not $Stub.HasExited) { $Stub.Kill(); $null = $Stub.WaitForExit(10000) }
    if ($script:Silent) { $Silent.Stop() }
    Remove-Item $Directory -Recurse -Force -ErrorAction Ignore
}

Describe 'A runbook under pwsh -NonInteractive -File' {
    BeforeAll {
        $start = [Diagnostics.ProcessStartInfo]::new([Environment]::ProcessPath)
        if ([IO.Path]::GetFileNameWithoutExtension([Environment]::ProcessPath) -eq 'dotnet') { $start.ArgumentList.Add((Join-Path $PSHOME 'pwsh.dll')) }
        foreach ($argument in '-NoProfile', '-NonInteractive', '-File', $Runbook) { $start.ArgumentList.Add($argument) }
        $start.RedirectStandardOutput = $true
        $start.RedirectStandardError = $true
        $start.Environment['GADGET_KUBE_REQUEST_TIMEOUT'] = '2'
        $start.Environment.Remove('KUBECONFIG') | Out-Null
        $watch = [Diagnostics.Stopwatch]::StartNew()
        $process = [Diagnostics.Process]::Start($start)
        $errorReading = $process.StandardError.ReadToEndAsync()
        $outputReading = $process.StandardOutput.ReadToEndAsync()
        if (-not $process.WaitForExit(120000)) { $process.Kill(); throw 'The runbook did not finish within 2 minutes.' }
        $script:Elapsed = $watch.Elapsed
        $script:ExitCode = $process.ExitCode
        $script:StandardError = $errorReading.Result
        $script:Lines = @($outputReading.Result -split "`n" | Where-Object { $_.Trim() })
        # Every line is one object: nothing else (warnings, progress, verbose) reached the output.
        $script:Rows = @($Lines | ForEach-Object { $_ | ConvertFrom-Json })
    }

    It 'ends with exit code 0 and writes nothing to the error stream' {
        $ExitCode | Should -Be 0 -Because ($StandardError -replace '\e\[[0-9;]*m')
        $StandardError.Trim() | Should -BeNullOrEmpty
    }

    It 'installs from the kubeconfig''s base64 content, and reports the version' {
        @($Rows | Where-Object Step -eq 'install').Count | Should -Be 6
        ($Rows | Where-Object Step -eq 'install').Action | Sort-Object -Unique | Should -BeExactly 'Created'
        ($Rows | Where-Object Step -eq 'version').Action | Should -BeLike 'not*'
    }

    It 'gets KubeConfigInvalid for a broken kubeconfig, without repeating its token' {
        $row = $Rows | Where-Object Step -eq 'broken'
        $row.Kind | Should -BeExactly 'KubeConfigInvalid,Gadget.Commands.GetGadgetVersionCommand'
        $Lines -join "`n" | Should -Not -Match 'do-not-print-me'
    }

    It 'gets KubeRequestTimeout from an API server that never answers, within the stated deadline' {
        $row = $Rows | Where-Object Step -eq 'silent'
        $row.Kind | Should -BeExactly 'KubeRequestTimeout,Gadget.Commands.GetGadgetVersionCommand'
        $row.Action | Should -BeLike 'OperationTimeout|*'
        $Elapsed.TotalSeconds | Should -BeLessThan 60
    }
}

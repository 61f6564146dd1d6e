# frozen_string_literal: true

module AsyncTaskCluster
  VERSION = '0.1.0'
end

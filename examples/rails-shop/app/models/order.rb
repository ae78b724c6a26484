class Order < ApplicationRecord
  include PgSearch::Model
  pg_search_scope :search, against: :reference
end

# A nearest-centroid classifier in plain Julia (no packages), for pld's Julia example.
#
# pld calls `fit(X, y; shrinkage)` and `predict(model, X)` through juliacall. X arrives as a
# Matrix{Float64} with one column per sample (features x samples), the layout Julia packages
# expect; y is a Vector of numeric labels. `fit` returns a plain struct, which pld writes with
# Julia's Serialization when it stores the model.
module NearestCentroid

"""The fitted model: the sorted class labels and one centroid column per class."""
struct Model{T}
    classes::Vector{T}
    centroids::Matrix{Float64}
end

"""
    fit(X, y; shrinkage=0.0)

One centroid per class: the mean of its samples (the columns of `X`), moved towards the mean of
all samples by `shrinkage` (0 keeps the class means, 1 gives every class the overall mean).
"""
function fit(X::AbstractMatrix{<:Real}, y::AbstractVector; shrinkage::Real=0.0)
    n = size(X, 2)
    n == length(y) || throw(DimensionMismatch(
        "X has $n samples (columns) but y has $(length(y)) labels"))
    0 <= shrinkage <= 1 || throw(DomainError(shrinkage, "shrinkage must be between 0 and 1"))
    classes = sort(unique(y))
    overall = vec(sum(X; dims=2)) ./ n
    centroids = zeros(Float64, size(X, 1), length(classes))
    for (k, class) in enumerate(classes)
        members = X[:, y .== class]
        class_mean = vec(sum(members; dims=2)) ./ size(members, 2)
        centroids[:, k] = (1 - shrinkage) .* class_mean .+ shrinkage .* overall
    end
    return Model(classes, centroids)
end

"""
    predict(model, X)

The label of the nearest centroid (Euclidean distance) for each column of `X`.
"""
function predict(model::Model, X::AbstractMatrix{<:Real})
    size(X, 1) == size(model.centroids, 1) || throw(DimensionMismatch(
        "X has $(size(X, 1)) features but the model was fitted with $(size(model.centroids, 1))"))
    labels = similar(model.classes, size(X, 2))
    for j in axes(X, 2)
        best, best_distance = 1, Inf
        for k in axes(model.centroids, 2)
            distance = sum(abs2, view(X, :, j) .- view(model.centroids, :, k))
            if distance < best_distance
                best, best_distance = k, distance
            end
        end
        labels[j] = model.classes[best]
    end
    return labels
end

end # module
